"""Heartbeats: a running job shows progress by its files growing, and one that stops is killed.

Progress is any change to the job's log or to its events file beside it (the inference worker
appends a line per batch to ``logs/infer/<task>.events.jsonl``); both live in the run directory,
which every runner's workers share with ``compass run``, so the same check works for a local
subprocess, a Ray task and a Slurm job. The clock starts when the job starts running (a job still
queued by its scheduler has not had its chance yet).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from compass.runners.base import Job

EXIT_STALLED = 124  # the outcome of a job killed for making no progress (as timeout(1) reports its kills)


def events_file(job: Job) -> Path:
    """Where the job's worker logs each batch it sends (``<task>.events.jsonl`` beside ``<task>.log``)."""
    return job.log.with_suffix(".events.jsonl")


def _signature(paths: tuple[Path, ...]) -> tuple[tuple[int, int], ...]:
    sig = []
    for path in paths:
        try:
            st = path.stat()
            sig.append((st.st_size, st.st_mtime_ns))
        except OSError:
            sig.append((-1, 0))
    return tuple(sig)


@dataclass
class Heartbeat:
    """Watches a job's files; :meth:`stalled` is true once they have not changed for ``timeout_s``."""

    paths: tuple[Path, ...]
    timeout_s: float | None  # None: never stalled (heartbeats off)
    _seen: tuple[tuple[int, int], ...] = field(default=(), init=False)
    _since: float = field(default_factory=time.monotonic, init=False)

    @classmethod
    def for_job(cls, job: Job, timeout_s: float | None) -> Heartbeat:
        beat = cls((job.log, events_file(job)), timeout_s)
        beat.reset()
        return beat

    def reset(self) -> None:
        """Start the clock again from now (the job is still queued, or was just started)."""
        self._seen, self._since = _signature(self.paths), time.monotonic()

    def stalled(self) -> bool:
        seen = _signature(self.paths)
        if seen != self._seen:
            self._seen, self._since = seen, time.monotonic()
            return False
        return self.timeout_s is not None and time.monotonic() - self._since > self.timeout_s
