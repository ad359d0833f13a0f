"""Typed config loading shared by ``refmodel data`` and ``refmodel pretrain``.

Configs are dataclasses filled from JSON/TOML files plus ``key=value`` overrides; every problem
raises ``ConfigError`` whose message names the offending key (the CLI prints it as one line).
"""
from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from pathlib import Path


class ConfigError(ValueError):
    pass


def load_file(path: str | Path) -> dict:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"config file {p}: {e.strerror}") from None
    try:
        data = tomllib.loads(raw.decode()) if p.suffix == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {p}: not valid {'TOML' if p.suffix == '.toml' else 'JSON'} ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p}: top level must be a mapping")
    return data


def _coerce(value, typ, key: str):
    origin = typing.get_origin(typ)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        return None if value is None else _coerce(value, args[0], key)
    if dataclasses.is_dataclass(typ):
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}': expected a mapping, got {value!r}")
        return build(typ, value, key + ".")
    base = origin or typ
    if base is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            return value
        elif isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        elif isinstance(value, float) and value.is_integer():
            return int(value)
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif base is str:
        if isinstance(value, str):
            return value
    elif base is list:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if isinstance(value, list):
            (item,) = typing.get_args(typ) or (typing.Any,)
            return [v if item is typing.Any else _coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    elif base is dict:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        if isinstance(value, dict):
            return value
    else:
        return value
    raise ConfigError(f"config key '{key}': expected {getattr(base, '__name__', base)}, got {value!r}")


def build(cls, data: dict, prefix: str = ""):
    """Instantiate dataclass ``cls`` from ``data``; unknown keys and bad types raise ConfigError."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in names:
            raise ConfigError(f"config key '{prefix}{key}': unknown key (known: {', '.join(sorted(names))})")
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config {prefix.rstrip('.') or cls.__name__}: {e}") from None


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """``a.b=value`` strings -> nested dict updates (values stay strings; ``build`` coerces them)."""
    out = json.loads(json.dumps(data))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value")
        key, value = item.split("=", 1)
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def to_dict(obj) -> dict:
    return dataclasses.asdict(obj)
