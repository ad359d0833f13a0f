"""Local runner: each job is its own subprocess, N at a time, with GPUs handed out per job.

A job that fails is retried (except exit code 2, bad input, which would fail the same way again);
its log keeps every attempt, and the outcome carries the job's own last error line.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from compass.runners.base import Job, Outcome, last_error_line
from compass.tasks.worker import EXIT_BAD_INPUT, EXIT_LIMIT, PARENT_ENV

if TYPE_CHECKING:
    from compass.config import RunnerCfg


@dataclass
class _Running:
    job: Job
    proc: subprocess.Popen[bytes]
    gpus: list[str]
    attempt: int
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


def run_jobs(jobs: list[Job], *, max_workers: int = 1, retry: int = 1,
             on_tick: Callable[[], None] | None = None, poll_s: float = 0.2,
             pass_fds: tuple[int, ...] = ()) -> list[Outcome]:
    """Run every job, ``max_workers`` at a time; ``pass_fds`` are inherited by each worker (the run
    directory's lock, so it stays held while any worker lives)."""
    gpus_free = visible_gpus()
    total_gpus = len(gpus_free)
    queue = [(job, 1) for job in jobs]
    running: list[_Running] = []
    outcomes: dict[str, Outcome] = {}
    try:
        while queue or running:
            while queue and len(running) < max_workers:
                job, attempt = queue[0]
                if job.num_gpus > total_gpus:
                    queue.pop(0)
                    outcomes[job.id] = Outcome(job, EXIT_BAD_INPUT, 0,
                                               f"needs {job.num_gpus} GPUs, this machine has {total_gpus}")
                    continue
                if job.num_gpus > len(gpus_free):
                    break  # wait for a running job to free its GPUs
                queue.pop(0)
                gpus, gpus_free = gpus_free[: job.num_gpus], gpus_free[job.num_gpus:]
                running.append(_start(job, gpus, attempt, pass_fds))
            time.sleep(poll_s)
            if on_tick:
                on_tick()
            for r in [r for r in running if r.proc.poll() is not None]:
                running.remove(r)
                r.log_file.close()
                gpus_free += r.gpus
                code = r.proc.returncode
                if code not in (0, EXIT_BAD_INPUT, EXIT_LIMIT) and r.attempt <= retry:
                    queue.append((r.job, r.attempt + 1))
                    continue
                outcomes[r.job.id] = Outcome(r.job, code, r.attempt, "" if code == 0 else last_error_line(r.job.log))
    finally:
        for r in running:  # interrupted: leave no orphan workers behind
            r.proc.kill()
            r.proc.wait()
            r.log_file.close()
    if on_tick:
        on_tick()
    return [outcomes[job.id] for job in jobs]


def _start(job: Job, gpus: list[str], attempt: int, pass_fds: tuple[int, ...]) -> _Running:
    job.log.parent.mkdir(parents=True, exist_ok=True)
    log_file = job.log.open("a", encoding="utf-8")
    log_file.write(f"=== attempt {attempt}: {' '.join(job.argv)} ===\n")
    log_file.flush()
    env = {**os.environ, **job.env, "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": ",".join(gpus),
           PARENT_ENV: str(os.getpid())}
    proc = subprocess.Popen(job.argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            pass_fds=pass_fds)
    return _Running(job, proc, gpus, attempt, log_file)


def run(jobs: list[Job], cfg: RunnerCfg, *, max_workers: int, retry: int,
        on_tick: Callable[[], None] | None = None, pass_fds: tuple[int, ...] = ()) -> list[Outcome]:
    """The ``Runner`` interface over :func:`run_jobs`: subprocesses on this machine."""
    return run_jobs(jobs, max_workers=max_workers, retry=retry, on_tick=on_tick, pass_fds=pass_fds)


def python_module(module: str, *args: str) -> list[str]:
    # -P: the working directory does not go first on sys.path, so a folder named like a package
    # there (a clone called compass/) cannot shadow the installed one.
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []
    return [sys.executable, *safe_path, "-m", module, *args]
