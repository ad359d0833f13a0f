"""Timing on a shared machine: wait for quiet, measure what other processes used, raise priority.

Other processes on the same cores can only slow a run down, so ``measured_pairs`` keeps the
fastest of ``--repeat`` runs and records, for it, how many cores other processes used meanwhile.
It runs the two commands in turn, so that both see the machine as it is at that
time: on a virtual machine the speed of the cores drifts by 10-20% over minutes, unseen by
``other_load_cores``, and N runs of one tool then N of the other compared two different machines.
"""
from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path


def set_priority(nice: int) -> None:
    """Nice this script and every command it starts. With autogroup scheduling (Linux's default),
    nice only ranks processes within one session, so also become a session of our own and nice it."""
    try:
        if os.getsid(0) != os.getpid():
            os.setsid()
        Path("/proc/self/autogroup").write_text(str(nice))
    except OSError:
        pass  # a process group leader (e.g. run from a terminal) or no autogroup: plain nice only
    os.setpriority(os.PRIO_PROCESS, 0, nice)


def cpu_busy_s() -> float:
    """CPU seconds this machine has spent busy (all processes), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:3]) + sum(v[5:8])) / os.sysconf("SC_CLK_TCK")  # user nice system, irq softirq steal


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wait_idle(max_wait: float, threshold: float = 0.25) -> float:
    """Wait (up to ``max_wait`` s) until other processes use < ``threshold`` cores; seconds waited."""
    start = told = time.perf_counter()
    while True:
        b0 = cpu_busy_s()
        time.sleep(2)
        load = (cpu_busy_s() - b0) / 2
        waited = time.perf_counter() - start
        if load < threshold or waited >= max_wait:
            return waited
        if time.perf_counter() - told > 30 or waited < 3:
            told = time.perf_counter()
            print(f"  machine busy ({load:.1f} cores used by other processes), waiting up to {max_wait:.0f} s ...",
                  file=sys.stderr, flush=True)


def measured_pairs(args, a: tuple, b: tuple) -> tuple[dict, dict, list[float]]:
    """``a`` and ``b`` (each ``(fn, *args)``) run in turn ``--repeat`` times, the order alternating
    (a b, b a, ...), each on a machine as quiet as ``--max-wait`` allows: the fastest run of each,
    with the cores other processes used meanwhile (others can only slow a run down), and each
    pair's wall-time ratio b / a."""
    runs_a, runs_b = [], []
    for k in range(args.repeat):
        for fn, *fn_args in (a, b) if k % 2 == 0 else (b, a):
            (runs_a if fn is a[0] else runs_b).append(_once(args, fn, fn_args))
    ratios = [round(y["wall_s"] / x["wall_s"], 3) for x, y in zip(runs_a, runs_b)]
    return _fastest(runs_a), _fastest(runs_b), ratios


def _once(args, fn, fn_args) -> dict:
    waited = wait_idle(args.max_wait)
    b0, c0, t0 = cpu_busy_s(), children_cpu_s(), time.perf_counter()
    res = fn(*fn_args)
    wall = time.perf_counter() - t0
    other = (cpu_busy_s() - b0) - (children_cpu_s() - c0)
    res.update(other_load_cores=max(0.0, other) / wall, idle_wait_s=waited)
    return res


def _fastest(runs: list[dict]) -> dict:
    return {**min(runs, key=lambda r: r["wall_s"]), "all_wall_s": [round(r["wall_s"], 2) for r in runs]}
