"""The loop every runner shares: start jobs up to a limit, watch them, retry failures, kill stalls.

A runner supplies a :class:`Launcher` (how to start, poll and kill a job on its machines: a local
subprocess, a Ray task, a Slurm job); :func:`drive` does the rest the same way for all of them:
at most ``max_workers`` jobs in flight, heartbeats (``heartbeat.py``), ``retry`` more attempts for
a failed job (not for exit code 2, bad input, which would fail the same way again), one log per job
holding every attempt, and on Ctrl-C or SIGTERM every job still in flight killed before the
interrupt goes on up.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from compass.runners.base import Job, Outcome, last_error_line
from compass.runners.heartbeat import EXIT_STALLED, Heartbeat
from compass.tasks.worker import EXIT_BAD_INPUT

log = logging.getLogger(__name__)

QUEUED = "queued"  # poll(): the scheduler has not started the job yet (its heartbeat waits)
RUNNING = "running"
Status = int | str  # an exit code once finished, else QUEUED or RUNNING


class LaunchError(Exception):
    """Starting an attempt failed (e.g. sbatch refused it): the attempt fails with this message."""


@dataclass
class Attempt:
    job: Job
    number: int  # 1 for the first attempt
    handle: Any  # the launcher's own: a Popen, a Ray object ref, a Slurm job id
    beat: Heartbeat
    killed_for: str = ""  # why the runner killed it, if it did


class Launcher(Protocol):
    poll_s: float  # seconds between polls

    def refuse(self, job: Job) -> str | None:
        """Why ``job`` can never run here (e.g. more GPUs than there are), or None."""

    def fits(self, job: Job) -> bool:
        """Whether ``job`` can start now (the local runner's free GPUs); else it waits its turn."""

    def start(self, job: Job, attempt: int) -> Any:
        """Start an attempt and return its handle; raise :class:`LaunchError` if it cannot start."""

    def poll(self, attempts: list[Attempt]) -> list[Status]:
        """The status of each attempt, in order."""

    def wait(self, attempts: list[Attempt]) -> bool:
        """Until an attempt may have finished (True) or ``poll_s`` passed (False)."""

    def kill(self, attempt: Attempt) -> None:
        """Stop a running attempt (it then finishes with some exit code through ``poll``)."""

    def release(self, attempt: Attempt) -> None:
        """A finished attempt's resources back (GPU slots, open files)."""

    def cancel_all(self, attempts: list[Attempt]) -> None:
        """Interrupted: stop every attempt still in flight and make sure none keeps running."""


def append_log(job: Job, line: str) -> None:
    """A line of the runner's own in the job's log, on a line of its own (a progress bar may have
    left the last one open)."""
    job.log.parent.mkdir(parents=True, exist_ok=True)
    with job.log.open("a+b") as f:
        f.seek(0, 2)
        if f.tell() > 0:
            f.seek(-1, 2)
            if f.read(1) != b"\n":
                line = "\n" + line
        f.write((line + "\n").encode())


def drive(jobs: list[Job], launcher: Launcher, *, max_workers: int, retry: int, heartbeat_s: float | None = None,
          on_tick: Callable[[], None] | None = None) -> list[Outcome]:
    """Run every job to an outcome (in ``jobs``' order)."""
    queue = deque((job, 1) for job in jobs)
    running: list[Attempt] = []
    outcomes: dict[str, Outcome] = {}

    def finish(job: Job, number: int, code: int, error: str) -> None:
        if code not in (0, EXIT_BAD_INPUT) and number <= retry:
            log.warning("task %s failed (exit %d: %s); attempt %d of %d", job.id, code, error, number + 1, retry + 1)
            queue.append((job, number + 1))
        else:
            outcomes[job.id] = Outcome(job, code, number, error)

    with _Interrupts().installed() as interrupts:
        try:
            while queue or running:
                interrupts.check()
                while queue and len(running) < max_workers:
                    job, number = queue[0]
                    refused = launcher.refuse(job)
                    if refused:
                        queue.popleft()
                        outcomes[job.id] = Outcome(job, EXIT_BAD_INPUT, 0, refused)
                        continue
                    if not launcher.fits(job):
                        break  # wait for a running job to free what this one needs
                    queue.popleft()
                    append_log(job, f"=== attempt {number}: {' '.join(job.argv)} ===")
                    with interrupts.held():
                        try:
                            handle = launcher.start(job, number)
                        except LaunchError as exc:
                            append_log(job, f"=== not started: {exc} ===")
                            finish(job, number, 1, str(exc))
                            continue
                        running.append(Attempt(job, number, handle, Heartbeat.for_job(job, heartbeat_s)))
                launcher.wait(running)
                if on_tick:
                    on_tick()
                if running:
                    _check(launcher, running, heartbeat_s, finish)
            interrupts.check()
        finally:
            if running:  # interrupted: leave nothing of ours running
                interrupts.holding = True  # a second Ctrl-C must not cut this cleanup short
                launcher.cancel_all(running)
    if on_tick:
        on_tick()
    return [outcomes[job.id] for job in jobs]


def _check(launcher: Launcher, running: list[Attempt], heartbeat_s: float | None,
           finish: Callable[[Job, int, int, str], None]) -> None:
    for attempt, status in zip(list(running), launcher.poll(running)):
        if status == QUEUED:
            attempt.beat.reset()
        elif isinstance(status, int):
            running.remove(attempt)
            launcher.release(attempt)
            if attempt.killed_for:
                finish(attempt.job, attempt.number, EXIT_STALLED, attempt.killed_for)
            else:
                finish(attempt.job, attempt.number, status, "" if status == 0 else last_error_line(attempt.job.log))
        elif not attempt.killed_for and attempt.beat.stalled():
            attempt.killed_for = f"no progress for {heartbeat_s:g} s (runner.heartbeat_s): killed"
            log.warning("task %s: %s", attempt.job.id, attempt.killed_for)
            append_log(attempt.job, f"=== {attempt.killed_for} ===")
            launcher.kill(attempt)


class _Interrupts:
    """Ctrl-C and SIGTERM (a scheduler or ``kill`` stopping ``compass run``) both unwind as
    ``KeyboardInterrupt``, so the runner's cleanup cancels what it started. Two holes closed:
    a signal landing while a job starts (after the launcher started it, before the loop holds
    its handle, so the cleanup would not know it) is held until the handle is kept; and one
    whose exception something swallowed (raised inside a ``__del__``, where Python only prints
    it) is raised again by the loop's next :meth:`check`."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.holding = False

    def handler(self, signum: int, frame: object) -> None:
        self.received = signum
        if not self.holding:
            raise KeyboardInterrupt(f"signal {signum}")

    def check(self) -> None:
        if self.received is not None:
            raise KeyboardInterrupt(f"signal {self.received}")

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        self.check()

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Interrupts]:
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield self
            return
        previous = {sig: signal.signal(sig, self.handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
