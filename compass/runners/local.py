"""Local runner: each job is its own subprocess, N at a time, with GPUs handed out per job.

The shared loop (``drive.py``) retries failures and kills stalled workers; this module only starts,
polls and kills subprocesses, and hands each its own GPUs through ``CUDA_VISIBLE_DEVICES``.
"""
from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from compass.runners.base import Job, Outcome
from compass.runners.drive import RUNNING, Attempt, Status, drive
from compass.tasks.worker import PARENT_ENV

if TYPE_CHECKING:
    from compass.config import RunnerCfg


@dataclass
class _Proc:
    proc: subprocess.Popen[bytes]
    gpus: list[str]
    log_file: TextIO = field(repr=False)


def visible_gpus() -> list[str]:
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g for g in env.split(",") if g.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU")]


class LocalLauncher:
    """Subprocesses of ``compass run``: they inherit ``pass_fds`` (the run directory's lock, so it
    stays held while any worker lives) and die with it."""

    def __init__(self, poll_s: float, pass_fds: tuple[int, ...]) -> None:
        self.poll_s = poll_s
        self.pass_fds = pass_fds
        self.gpus_free = visible_gpus()
        self.total_gpus = len(self.gpus_free)

    def refuse(self, job: Job) -> str | None:
        if job.num_gpus > self.total_gpus:
            return f"needs {job.num_gpus} GPUs, this machine has {self.total_gpus}"
        return None

    def fits(self, job: Job) -> bool:
        return job.num_gpus <= len(self.gpus_free)

    def start(self, job: Job, attempt: int) -> _Proc:
        gpus, self.gpus_free = self.gpus_free[: job.num_gpus], self.gpus_free[job.num_gpus:]
        log_file = job.log.open("a", encoding="utf-8")
        env = {**os.environ, **job.env, "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": ",".join(gpus),
               PARENT_ENV: str(os.getpid())}
        proc = subprocess.Popen(job.argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, pass_fds=self.pass_fds)
        return _Proc(proc, gpus, log_file)

    def poll(self, attempts: list[Attempt]) -> list[Status]:
        codes = [a.handle.proc.poll() for a in attempts]
        return [RUNNING if code is None else code for code in codes]

    def wait(self, attempts: list[Attempt]) -> bool:
        """Wakes as soon as a worker exits (its pidfd turns readable), so the next stage starts
        at once instead of up to ``poll_s`` later; where pidfds are missing (not Linux), sleeps."""
        fds: list[int] = []
        try:
            for a in attempts:
                with contextlib.suppress(AttributeError, OSError):  # no os.pidfd_open, or a kernel before 5.3
                    fds.append(os.pidfd_open(a.handle.proc.pid))
            if not fds:
                time.sleep(self.poll_s)
                return False
            return bool(select.select(fds, [], [], self.poll_s)[0])
        finally:
            for fd in fds:
                os.close(fd)

    def kill(self, attempt: Attempt) -> None:
        attempt.handle.proc.kill()

    def release(self, attempt: Attempt) -> None:
        attempt.handle.log_file.close()
        self.gpus_free += attempt.handle.gpus

    def cancel_all(self, attempts: list[Attempt]) -> None:
        for a in attempts:
            a.handle.proc.kill()
            a.handle.proc.wait()
            a.handle.log_file.close()


def run_jobs(jobs: list[Job], *, max_workers: int = 1, retry: int = 1,
             on_tick: Callable[[], None] | None = None, poll_s: float = 0.2,
             pass_fds: tuple[int, ...] = (), heartbeat_s: float | None = None) -> list[Outcome]:
    """Run every job, ``max_workers`` at a time, as subprocesses of this one."""
    return drive(jobs, LocalLauncher(poll_s, pass_fds), max_workers=max_workers, retry=retry,
                 heartbeat_s=heartbeat_s, on_tick=on_tick)


def run(jobs: list[Job], cfg: RunnerCfg, *, max_workers: int, retry: int,
        on_tick: Callable[[], None] | None = None, pass_fds: tuple[int, ...] = ()) -> list[Outcome]:
    """The ``Runner`` interface over :func:`run_jobs`: subprocesses on this machine."""
    return run_jobs(jobs, max_workers=max_workers, retry=retry, on_tick=on_tick, pass_fds=pass_fds,
                    poll_s=cfg.poll_s or 0.2, heartbeat_s=cfg.heartbeat_s)


def python_module(module: str, *args: str) -> list[str]:
    # -P: the working directory does not go first on sys.path, so a folder named like a package
    # there (a clone called compass/) cannot shadow the installed one.
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []
    return [sys.executable, *safe_path, "-m", module, *args]
