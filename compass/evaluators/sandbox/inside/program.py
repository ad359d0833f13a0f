"""A whole program as ``__main__`` (``run_python``): its exit status is its result, with the
interpreter's own conventions (an uncaught exception prints a traceback and exits 1; SystemExit's
code; atexit handlers and non-daemon threads run before the end)."""
from __future__ import annotations

import atexit
import builtins
import contextlib
import os
import sys
import threading
import traceback


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def main(code: str) -> None:
    status = 0
    try:
        exec(compile(code, "main.py", "exec"), {"__name__": "__main__", "__builtins__": builtins})
    except SystemExit as exc:
        status = _exit_code(exc)
    except BaseException:  # reported as the interpreter would
        traceback.print_exc()
        status = 1
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # wait for non-daemon threads
        atexit._run_exitfuncs()
    except SystemExit as exc:
        status = _exit_code(exc)
    except BaseException:
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):  # a closed descriptor
            stream.flush()
    os._exit(status)
