"""What every worker entry point shares: argument handling, quiet libraries, exit codes."""
from __future__ import annotations

import os
import sys
import traceback
from typing import Callable

from compass.errors import CompassError

EXIT_BAD_INPUT = 2  # the runner does not retry these: the same input fails the same way


def worker_main(run: Callable[[str], None]) -> None:
    if len(sys.argv) != 2:
        print(f"usage: python -m {sys.modules['__main__'].__spec__.name} TASK_JSON", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        run(sys.argv[1])
    except CompassError as exc:
        print(f"compass: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_INPUT)
    except Exception as exc:
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
