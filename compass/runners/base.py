"""What every runner takes and gives: jobs (a worker's command line and its log) in, outcomes out.

A runner runs each job to completion, ``max_workers`` at a time, retrying a job that fails (except
exit code 2, bad input, which would fail the same way again); its log keeps every attempt, and the
outcome carries the job's own last error line. ``on_tick`` is called while jobs run (progress
bars); ``pass_fds`` are descriptors a local worker inherits (the run directory's lock).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from compass.config import RunnerCfg


@dataclass
class Job:
    id: str
    argv: list[str]
    log: Path
    num_gpus: int = 0
    env: dict[str, str] = field(default_factory=dict)  # set for the worker on top of the runner's environment


@dataclass
class Outcome:
    job: Job
    returncode: int
    attempts: int
    error: str = ""  # the job's last error line, for the console

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runner(Protocol):
    def __call__(self, jobs: list[Job], cfg: RunnerCfg, *, max_workers: int, retry: int,
                 on_tick: Callable[[], None] | None = None, pass_fds: tuple[int, ...] = ()) -> list[Outcome]: ...


def last_error_line(log: Path) -> str:
    """The most telling line of a failed job's log: its error, not a progress bar."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except FileNotFoundError:
        return "no log written"
    for line in reversed(lines[-200:]):
        if line.startswith("compass: error:") or re.match(r"^[\w.]*(Error|Exception|Interrupt)\b", line):
            return line
    for line in reversed(lines[-200:]):
        if not line.startswith("===") and "it/s]" not in line and "s/it]" not in line:
            return line
    return "no output"
