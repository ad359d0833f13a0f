"""Run a function under a time limit, in the main thread (a timer signal) or in any other one (a
worker thread abandoned on timeout), so one pathological answer cannot stall an evaluation."""
from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Timeout(BaseException):
    """Raised inside a check that ran out of time.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that the many
    ``except Exception`` blocks inside sympy / math-verify cannot swallow it.
    """


_REFIRE_S = 0.05  # re-raise every 50 ms if a bare ``except:`` swallowed it


def run_with_timeout(fn: Callable[[], T], seconds: float) -> T:
    """Run ``fn()`` and raise ``Timeout`` if it takes more than ``seconds``.

    Main thread (POSIX): ``SIGALRM`` via ``setitimer``; a timer and handler
    that were already installed (e.g. by pytest-timeout) are put back, with
    the outer timer's remaining time.  Other threads: ``fn`` runs in a daemon
    worker thread; on timeout ``Timeout`` is raised here and also injected
    into the worker (``PyThreadState_SetAsyncExc``) so it stops at its next
    Python bytecode instead of burning CPU.  Neither mechanism can interrupt a
    single long C call (huge integer powers): see ``_too_expensive``.
    """
    if seconds is None or seconds <= 0:
        return fn()
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and hasattr(signal, "setitimer"):
        state = {"active": True}

        def handler(signum, frame):
            if state["active"]:
                raise Timeout()

        old_handler = signal.signal(signal.SIGALRM, handler)
        old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds, _REFIRE_S)
        t0 = time.monotonic()
        try:
            return fn()
        finally:
            state["active"] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            if old_delay > 0:  # give back an outer timer (e.g. pytest-timeout)
                remaining = old_delay - (time.monotonic() - t0)
                signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-3), old_interval)

    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:
            box["error"] = e

    worker = threading.Thread(target=target, daemon=True, name="math_equiv-check")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        _async_raise(worker, Timeout)
        raise Timeout()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _async_raise(thread: threading.Thread, exc_type: type) -> None:
    if thread.ident is None:  # never started: nothing to interrupt
        return
    try:
        import ctypes

        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type)
        )
    except Exception:
        pass


