"""The tester's process: runs the task's prompt (for its helpers) and test, and calls the candidate
through a stand-in that sends the arguments as plain data and gets a plain value (or a built-in
exception) back. The verdict is written here, on a descriptor the candidate never holds: "passed"
exactly when ``check`` returns."""
from __future__ import annotations

import builtins
import os

from . import wire

CHAN_IN, CHAN_OUT, VERDICT = 3, 4, 5  # descriptors: answers from the candidate, calls to it, verdict
_NOT_REPLAYED = (SystemExit, KeyboardInterrupt, GeneratorExit)


class CandidateGone(BaseException):
    """The candidate's process ended (or closed the channel) during a call. A BaseException, so the
    test's own ``except Exception`` cannot swallow it."""


class CandidateExit(BaseException):
    """The candidate raised SystemExit or KeyboardInterrupt: the test is over, as in one process."""


class ChannelError(BaseException):
    """The candidate broke the protocol (its answer is not plain data, or out of turn)."""


class NotCarried(BaseException):
    """The test passed the candidate something the channel does not carry (a function, an
    object): a limit of this harness, not the completion's failure."""


class CandidateError(Exception):
    """An exception of a class the completion defined (the tester cannot rebuild the class)."""


def rebuild_exception(name: str, message: str) -> BaseException:
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        if issubclass(cls, _NOT_REPLAYED):
            return CandidateExit(f"{name}: {message}" if message else name)
        try:
            return cls(message) if message else cls()
        except Exception:  # other constructors (UnicodeDecodeError)
            pass
    return CandidateError(f"{name.removeprefix('candidate:')}: {message}")


class Candidate:
    """Stands for the completion's function in the test."""

    def __init__(self, name: str):
        self.__name__ = self.__qualname__ = name
        self._seq = 0
        self._ready = False

    def ensure_ready(self) -> None:
        """The completion's top level ran: calls start only then, as in one program."""
        if not self._ready:
            await_candidate()
            self._ready = True

    def __repr__(self) -> str:
        return f"<candidate {self.__name__}>"

    def __call__(self, *args, **kwargs):
        self.ensure_ready()
        self._seq += 1
        try:
            message = ["call", self._seq, [wire.encode(a, strict=True) for a in args],
                       wire.encode(dict(kwargs), strict=True)]
        except wire.NotPlain as exc:
            raise NotCarried(f"the test passes a {exc} to the candidate, which is not plain data") from None
        try:
            wire.send(CHAN_OUT, message)
            reply = wire.recv(CHAN_IN)
        except (BrokenPipeError, wire.PeerGone):
            raise CandidateGone("the candidate's process ended during a call") from None
        except wire.ProtocolError as exc:
            raise ChannelError(f"the candidate's answer is not plain data ({exc})") from None
        if reply[0] == "ok" and len(reply) == 3 and reply[1] == self._seq:
            return reply[2]
        if reply[0] == "exc" and len(reply) == 4 and reply[1] == self._seq \
                and type(reply[2]) is str and type(reply[3]) is str:
            raise rebuild_exception(reply[2], reply[3])
        raise ChannelError("the candidate's answer does not follow the protocol")


def await_candidate() -> None:
    """The candidate's first message: it is ready, or its top level raised (that exception here)."""
    try:
        message = wire.recv(CHAN_IN)
    except wire.PeerGone:
        raise CandidateGone("the candidate's process ended before the test began") from None
    except wire.ProtocolError as exc:
        raise ChannelError(f"the candidate's first message is not plain data ({exc})") from None
    if message == ["ready"]:
        return
    if message[0] == "load" and len(message) == 3 and all(type(m) is str for m in message[1:]):
        raise rebuild_exception(message[1], message[2])
    raise ChannelError("the candidate's first message does not follow the protocol")


def describe(exc: BaseException) -> str:
    name = type(exc).__name__
    try:
        text = str(exc)
    except Exception:  # a broken __str__ (the test's or a rebuilt exception's)
        text = ""
    return f"{name}: {text}"[:300] if text else name


def run(setup: str, test: str, entry: str) -> list:
    """The verdict message: ["verdict", passed, stage, reason]."""
    namespace: dict = {}
    stage = "setup"
    try:
        exec(compile(setup, "<prompt>", "exec"), namespace)  # the task's helpers (poly, encode_cyclic)
        candidate = Candidate(entry)
        namespace[entry] = candidate  # a test may call the entry point by name
        exec(compile(test, "<test>", "exec"), namespace)  # defines check(candidate)
        check = namespace["check"]
        stage = "load"
        candidate.ensure_ready()
        stage = "test"
        check(candidate)
    except NotCarried as exc:
        return ["verdict", False, "channel", describe(exc)]
    except BaseException as exc:  # whatever stopped the test, it did not pass
        return ["verdict", False, stage, describe(exc)]
    return ["verdict", True, stage, ""]


def main(setup: str, test: str, entry: str) -> None:
    verdict = run(setup, test, entry)
    try:
        wire.send(VERDICT, verdict)
    finally:
        os._exit(0)
