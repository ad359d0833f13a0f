"""Turn plain config dicts into typed dataclasses, with one-line errors naming the key.

A dataclass field's type hint is its schema: ``str``, ``int``, ``float``, ``bool``, ``list[X]``,
``dict``, ``X | None``, ``Literal[...]`` and nested dataclasses are understood. Unknown keys are
errors (with a "did you mean" hint), so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import difflib
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


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = [o for o in get_args(tp) if o is not type(None)]
        if value is None and len(options) < len(get_args(tp)):
            return None
        # A dict meant for a nested dataclass should report the nested key that is wrong, not
        # "expected X or None": convert with that option and let its error through.
        if isinstance(value, dict):
            nested = [o for o in options if dataclasses.is_dataclass(o)]
            if len(nested) == 1 and not any(o is dict or get_origin(o) is dict for o in options):
                return _convert(value, nested[0], where)
        for option in options:
            try:
                return _convert(value, option, where)
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
        return [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise CompassError(f"{where}: expected a dict, got {_describe(value)}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
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


def from_dict(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass ``cls`` from ``data``; every error names ``where`` and the key."""
    if dataclasses.is_dataclass(data) and isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise CompassError(f"{where}: expected a dict, got {_describe(data)}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(fields)})"
        raise CompassError(f"{where}.{key}: unknown key{hint}")
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], f"{where}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise CompassError(f"{where}.{name}: required key is missing")
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check is not None:
        check(where)
    return obj
