"""What every worker entry point shares: argument handling, logging, dying with the parent, exit codes."""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable

from compass.errors import CompassError

EXIT_BAD_INPUT = 2  # the runner does not retry these: the same input fails the same way
EXIT_LIMIT = 3  # stopped at the run's cost limit: not retried either; -r with a higher limit goes on
PARENT_ENV = "COMPASS_PARENT_PID"  # set by the runner: the worker exits if that process is gone
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies, so no orphan keeps computing (and
    writing) after ``compass run`` is killed; then make sure the parent did not die already."""
    parent = os.environ.get(PARENT_ENV)
    if parent is None:
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the run directory's lock still guards the files
        return
    if str(os.getppid()) != parent:
        sys.exit(1)


def worker_main(run: Callable[[str], None]) -> None:
    if len(sys.argv) != 2:
        spec = sys.modules["__main__"].__spec__  # None when run as a script rather than with -m
        program = f"-m {spec.name}" if spec is not None else sys.argv[0]
        print(f"usage: python {program} TASK_JSON", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    die_with_parent()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP request would bury the log
    try:
        run(sys.argv[1])
    except CompassError as exc:
        print(f"compass: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(EXIT_LIMIT if exc.exit_code == EXIT_LIMIT else EXIT_BAD_INPUT)
    except Exception as exc:  # TransientError included: exit 1, so the runner tries the task again
        traceback.print_exc()
        # The runner reports a task's last log line: make it the error itself.
        print(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
              file=sys.stderr, flush=True)
        sys.exit(1)
    # Everything the task wrote is closed and fsync'ed by now. Skip interpreter teardown: with torch
    # and a transformers model loaded it takes about 1.2 s (0.06 s this way), paid by every task.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
