"""Typed config loading shared by ``refmodel data`` and ``refmodel pretrain``.

Configs are dataclasses filled from JSON/TOML files plus ``key=value`` overrides; every problem
raises ``ConfigError`` whose message names the offending key (the CLI prints it as one line).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import tomllib

from compass.errors import CompassError
from compass.schema import from_dict

# One error type for the whole project: a bad value is one line naming its key, exit code 2.
ConfigError = CompassError


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


def build(cls, data: dict, where: str = "config"):
    """Dataclass ``cls`` from ``data`` (file values, or ``key=value`` strings from the command line)
    through the project's one coercer; unknown keys and bad types raise ``ConfigError``."""
    return from_dict(cls, data, where, from_strings=True)


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


def check_training_keys(cfg, positive: list[str], non_negative: list[str]) -> None:
    """The checks every training config shares (pretraining and fine-tuning): counts, the learning-rate
    schedule and the device, each failure a ``ConfigError`` naming its key."""
    for key in positive:
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"config key '{key}': must be > 0, got {getattr(cfg, key)}")
    for key in non_negative:
        if getattr(cfg, key) < 0:
            raise ConfigError(f"config key '{key}': must be >= 0, got {getattr(cfg, key)}")
    if not cfg.lr > 0:
        raise ConfigError(f"config key 'lr': must be > 0, got {cfg.lr}")
    if not 0 <= cfg.min_lr_ratio <= 1:
        raise ConfigError(f"config key 'min_lr_ratio': must be in [0, 1], got {cfg.min_lr_ratio}")
    if cfg.warmup_steps > cfg.max_steps:
        raise ConfigError(f"config key 'warmup_steps': {cfg.warmup_steps} exceeds max_steps {cfg.max_steps}")
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"config key 'device': must be auto, cpu or cuda, got {cfg.device!r}")
