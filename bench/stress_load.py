"""Load to run beside the test suite (issue 20, must-show 5): one process burning a core, and a loop
of sandboxed programs through ``run_many`` (CPU-bound, a subprocess, a hang, a 100 MB string).

    python3 bench/stress_load.py &   # then, in a fresh clone: .ci/run
"""
from __future__ import annotations

import multiprocessing

from compass.evaluators.sandbox import run_many

PROGRAMS = ["print(sum(range(10**6)))", "import os; os.system('true')", "while True: pass", "x = 'a' * 10**8"]


def burn() -> None:
    x = 0
    while True:
        x = (x * 31 + 7) % 1000003


def main() -> None:
    multiprocessing.Process(target=burn, daemon=True).start()
    done = 0
    while True:
        results = run_many(PROGRAMS * 2)
        done += len(results)
        if done % 80 == 0:
            print("sandbox programs run:", done, [r.status for r in results[:4]], flush=True)


if __name__ == "__main__":
    main()
