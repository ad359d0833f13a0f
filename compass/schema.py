"""Turn plain dicts into typed dataclasses, with one-line errors naming the key: the one coercer
of the project (evaluation configs, run records, and ``reference_model``'s training configs).

A dataclass field's type hint is its schema: ``str``, ``int``, ``float``, ``bool``, ``list[X]``,
``dict``, ``dict[K, V]``, ``X | None``, ``Literal[...]`` and nested dataclasses are understood.
Unknown keys are errors (with a "did you mean" hint), so a typo never silently falls back to a
default. ``from_strings=True`` also reads command-line strings (``"3"``, ``"true"``, ``"a,b"``,
JSON for dicts) as the field's type.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import types
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from compass.errors import CompassError

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is list:
        return f"list of {_type_name(get_args(tp)[0])}" if get_args(tp) else "list"
    if origin is dict:
        return "dict"
    if dataclasses.is_dataclass(tp):
        return "dict"
    return getattr(tp, "__name__", str(tp))


def _from_string(value: str, tp: Any) -> Any:
    """A command-line string as a value of ``tp``, or the string itself when it does not read as one."""
    origin = get_origin(tp) or tp
    text = value.strip()
    try:
        if origin is bool:
            return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text.lower(), value)
        if origin is int:
            return int(text)
        if origin is float:
            return float(text)
        if origin is list:
            return [v for v in text.split(",") if v]
        if origin is dict:
            return json.loads(text)
    except ValueError:
        return value
    return value


def _convert(value: Any, tp: Any, where: str, from_strings: bool = False) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if from_strings and isinstance(value, str) and tp is not str:
        options = [o for o in get_args(tp) if o is not type(None)] if origin in (Union, types.UnionType) else [tp]
        if str not in options:
            value = _from_string(value, options[0])
    if origin in (Union, types.UnionType):
        options = [o for o in get_args(tp) if o is not type(None)]
        if value is None and len(options) < len(get_args(tp)):
            return None
        # A dict meant for a nested dataclass should report the nested key that is wrong, not
        # "expected X or None": convert with that option and let its error through.
        if isinstance(value, dict):
            nested = [o for o in options if dataclasses.is_dataclass(o)]
            if len(nested) == 1 and not any(o is dict or get_origin(o) is dict for o in options):
                return _convert(value, nested[0], where, from_strings)
        for option in options:
            try:
                return _convert(value, option, where, from_strings)
            except CompassError:
                continue
        raise CompassError(f"{where}: expected {_type_name(tp)}, got {_describe(value)}")
    if origin is Literal:
        if value not in get_args(tp):
            raise CompassError(f"{where}: expected one of {', '.join(map(repr, get_args(tp)))}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise CompassError(f"{where}: expected {_type_name(tp)}, got {_describe(value)}")
        (item_tp,) = get_args(tp) or (Any,)
        return [_convert(v, item_tp, f"{where}[{i}]", from_strings) for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise CompassError(f"{where}: expected a dict, got {_describe(value)}")
        if not get_args(tp):
            return dict(value)
        key_tp, value_tp = get_args(tp)
        return {_convert(k, key_tp, where): _convert(v, value_tp, f"{where}.{k}", from_strings)
                for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where, from_strings=from_strings)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float) and isinstance(value, bool):
        raise CompassError(f"{where}: expected {tp.__name__}, got {_describe(value)}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise CompassError(f"{where}: expected {_type_name(tp)}, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 40 else text[:37] + '...'}"


def from_dict(cls: type[T], data: Any, where: str, *, from_strings: bool = False) -> T:
    """Build dataclass ``cls`` from ``data``; every error names ``where`` and the key. A
    ``__post_init__`` or ``validate`` raising ``ValueError`` becomes such an error too."""
    if dataclasses.is_dataclass(data) and isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise CompassError(f"{where}: expected a dict, got {_describe(data)}")
    hints, fields = _fields(cls)
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(fields)})"
        raise CompassError(f"{where}.{key}: unknown key{hint}")
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], f"{where}.{name}", from_strings)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise CompassError(f"{where}.{name}: required key is missing")
    try:
        obj = cls(**kwargs)
    except CompassError:
        raise
    except (TypeError, ValueError) as exc:  # a class's own checks in __post_init__
        raise CompassError(f"{where}: {exc}") from None
    check = getattr(obj, "validate", None)
    # validate() checks the values; a frozen config returns its canonical copy (names resolved).
    checked = check(where) if check is not None else None
    return obj if checked is None else checked


_FIELDS: dict[type, tuple[dict[str, Any], dict[str, dataclasses.Field]]] = {}


def _fields(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field]]:
    """A dataclass's resolved type hints and its fields by name, computed once per class."""
    if cls not in _FIELDS:
        _FIELDS[cls] = get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls)}
    return _FIELDS[cls]


def json_schema_of(tp: Any) -> dict[str, Any]:
    """A JSON Schema for a type hint (dataclasses become closed objects), for documenting file formats."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return {}
    if origin in (Union, types.UnionType):
        return {"anyOf": [json_schema_of(a) for a in args]}
    if origin is Literal:
        return {"enum": list(args)}
    if origin is list:
        return {"type": "array", "items": json_schema_of(args[0])} if args else {"type": "array"}
    if origin is dict or tp is dict:
        return {"type": "object", "additionalProperties": json_schema_of(args[1])} if args else {"type": "object"}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints, fields = _fields(tp)
        return {"type": "object", "additionalProperties": False,
                "properties": {name: json_schema_of(hints[name]) for name in fields},
                "required": [name for name, f in fields.items()
                             if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
    if tp in simple:
        return {"type": simple[tp]}
    raise TypeError(f"no JSON Schema for {tp!r}")
