"""Framed messages between sandboxed processes, and the plain-data encoding of Python values.

The tester never receives an object built by the candidate, only bytes that ``decode`` turns into
fresh built-in values (None, bool, int, float, complex, str, bytes, bytearray, list, tuple, dict,
set, frozenset) or an ``Opaque`` stand-in. So a rigged ``__eq__``, ``__hash__`` or ``__bool__``
cannot reach an assertion: whatever the candidate sends is one definite plain value, compared by
the built-in operators.

Encoding: JSON, where every container is a one-key object naming its type (``{"l": [...]}`` for a
list, ``{"d": [[k, v], ...]}`` for a dict, ...), ints beyond 64 bits travel as hex (no digit limit),
floats keep their exact repr (NaN and infinities included).
"""
from __future__ import annotations

import json
import os
import struct

MAX_FRAME = 16 << 20  # one message; a bigger result is refused, not truncated
MAX_ITEMS = 100_000  # items taken from an iterator the candidate returns
_BIG = 1 << 63
_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed message."""


class PeerGone(Exception):
    """The peer closed its end (exited, crashed, was killed)."""


class NotPlain(TypeError):
    """``encode(strict=True)`` met a value that is not plain data (its type is the message)."""


def send(fd: int, message: list) -> None:
    """Send ``[kind, ...]``; values inside must already be ``encode``d."""
    data = json.dumps(message, separators=(",", ":")).encode()
    if len(data) > MAX_FRAME:
        raise ProtocolError(f"message of {len(data)} bytes exceeds {MAX_FRAME}")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise PeerGone(f"end of stream after {n - left} of {n} bytes")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv(fd: int) -> list:
    """One message: a JSON array whose objects are all decoded as plain values (``_hook``)."""
    (size,) = _HEADER.unpack(read_exact(fd, _HEADER.size))
    if size > MAX_FRAME:
        raise ProtocolError(f"message of {size} bytes exceeds {MAX_FRAME}")
    try:
        message = json.loads(read_exact(fd, size), object_hook=_hook)
    except (TypeError, ValueError, RecursionError) as exc:  # unhashable keys, bad JSON, too deep
        raise ProtocolError(f"malformed message: {type(exc).__name__}") from None
    if type(message) is not list or not message or type(message[0]) is not str:
        raise ProtocolError("a message is a JSON array starting with its kind")
    return message


# ------------------------------------------------------------------------------ values
def encode(value: object, strict: bool = False) -> object:
    """A JSON-ready form of ``value``. Subclasses of built-ins travel as their base value (a
    namedtuple as a tuple, a Counter as a dict); anything else as an ``Opaque`` description, or,
    with ``strict``, raises NotPlain."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, int):
        number = int.__index__(value)
        return number if -_BIG < number < _BIG else {"i": hex(number)}
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, complex):
        return {"c": [value.real, value.imag]}
    if isinstance(value, (bytes, bytearray)):
        return {"B" if isinstance(value, bytearray) else "b": bytes(value).hex()}
    if isinstance(value, list):
        return {"l": [encode(v, strict) for v in list.__iter__(value)]}
    if isinstance(value, tuple):
        return {"t": [encode(v, strict) for v in tuple.__iter__(value)]}
    if isinstance(value, dict):
        return {"d": [[encode(k, strict), encode(v, strict)] for k, v in dict.items(value)]}
    if isinstance(value, (set, frozenset)):
        return {"f" if isinstance(value, frozenset) else "s": [encode(v, strict) for v in value]}
    if strict:
        raise NotPlain(type(value).__qualname__)
    return _describe(value)


def _describe(value: object) -> dict:
    name = type(value).__qualname__
    try:
        text = repr(value)[:200]
    except Exception:  # a broken __repr__ is the candidate's business
        text = f"<{name}>"
    out: dict = {"o": name, "r": text}
    if hasattr(value, "__iter__"):  # generators, map objects, views: their items, lazily consumed
        items: list = []
        try:
            for item in value:
                if len(items) == MAX_ITEMS:
                    return out
                items.append(encode(item))
        except Exception:  # not iterable after all, or it raised: no items
            return out
        out["items"] = items
        out["iterator"] = hasattr(value, "__next__")
        out["sized"] = hasattr(value, "__len__")
    return out


class Opaque:
    """What the tester gets for a result that is not plain data. Equal only to itself (identity),
    as the original is to a plain expected value; iterable when the original was (its items, as
    plain values); never forwards a comparison to the candidate."""

    __slots__ = ("_items", "_iterator", "_sized", "text", "type_name")

    def __init__(self, type_name: str, text: str, items: list | None, iterator: bool, sized: bool):
        self.type_name, self.text = type_name, text
        self._items, self._sized = items, sized
        self._iterator = iter(items) if items is not None and iterator else None

    def __repr__(self) -> str:
        return self.text

    def __iter__(self):
        if self._items is None:
            raise TypeError(f"'{self.type_name}' object is not iterable (not plain data)")
        return self._iterator if self._iterator is not None else iter(self._items)

    def __next__(self):
        if self._iterator is None:
            raise TypeError(f"'{self.type_name}' object is not an iterator")
        return next(self._iterator)

    def __len__(self) -> int:
        if self._items is None or not self._sized:
            raise TypeError(f"object of type '{self.type_name}' has no len()")
        return len(self._items)

    def __bool__(self) -> bool:
        return len(self._items) > 0 if self._items is not None and self._sized else True


_CONTAINERS = {"l": list, "t": tuple, "s": set, "f": frozenset}


def _hook(obj: dict) -> object:
    if len(obj) == 1:
        (tag, body), = obj.items()
        if tag in _CONTAINERS and type(body) is list:
            return _CONTAINERS[tag](body)
        if tag == "d" and type(body) is list and all(type(p) is list and len(p) == 2 for p in body):
            return dict(body)
        if tag == "i" and type(body) is str:
            return int(body, 16)
        if tag in ("b", "B") and type(body) is str:
            return (bytes if tag == "b" else bytearray)(bytes.fromhex(body))
        if tag == "c" and type(body) is list and len(body) == 2 and all(type(x) in (int, float) for x in body):
            return complex(*body)
    if set(obj) <= {"o", "r", "items", "iterator", "sized"} and {"o", "r"} <= set(obj):
        items = obj.get("items")
        if type(obj["o"]) is str and type(obj["r"]) is str and (items is None or type(items) is list):
            return Opaque(obj["o"], obj["r"], items, obj.get("iterator") is True, obj.get("sized") is True)
    raise ProtocolError("not a plain-data value")
