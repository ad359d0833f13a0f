"""Timing on a shared machine: wait for quiet, measure what other processes used, raise priority.

Other processes on the same cores can only slow a run down, so ``measured`` keeps the fastest of
``--repeat`` runs and records, for it, how many cores other processes used meanwhile.
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


def measured(args, fn, *fn_args) -> dict:
    """Run ``fn`` ``--repeat`` times, each on a machine as quiet as ``--max-wait`` allows; the fastest
    run, with the cores other processes used meanwhile (noise: others can only slow a run down)."""
    best, walls = None, []
    for _ in range(args.repeat):
        waited = wait_idle(args.max_wait)
        b0, c0, t0 = cpu_busy_s(), children_cpu_s(), time.perf_counter()
        res = fn(*fn_args)
        wall = time.perf_counter() - t0
        other = (cpu_busy_s() - b0) - (children_cpu_s() - c0)
        res.update(other_load_cores=max(0.0, other) / wall, idle_wait_s=waited)
        walls.append(round(res["wall_s"], 2))
        best = res if best is None or res["wall_s"] < best["wall_s"] else best
    return {**best, "all_wall_s": walls}
