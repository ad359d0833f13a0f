"""A pool of worker sandboxes: picks the mode, runs jobs on all workers at once, replaces a worker
whose supervisor stopped answering, and keeps results in the input order."""
from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import threading
from collections.abc import Sequence
from typing import Self

from compass.evaluators.sandbox import cgroups, modes
from compass.evaluators.sandbox.limits import SandboxLimits, default_workers
from compass.evaluators.sandbox.results import (
    CheckResult,
    SandboxResult,
    classify_check,
    classify_program,
)
from compass.evaluators.sandbox.worker import Check, Program, Raw, Worker

log = logging.getLogger(__name__)
DEFAULT_LIMITS = SandboxLimits()
SANDBOX_FAILURE = "sandbox failure"  # how a job that no worker could run begins its reason
_chosen: dict[str, str] = {}  # isolation setting -> the mode that started in this process (no re-probing)
_cleaned = False


class SandboxPool:
    """``with SandboxPool(limits) as pool: pool.run_checks(checks)``."""

    def __init__(self, limits: SandboxLimits = DEFAULT_LIMITS, isolation: str = "auto", workers: int | None = None,
                 use_cgroup: bool = True):
        self.limits, self.isolation, self.use_cgroup = limits, isolation, use_cgroup
        self.size = workers if workers is not None else default_workers(limits.memory_mb)
        if self.size < 1:
            raise ValueError(f"workers must be >= 1, got {self.size}")
        self.mode: str | None = None
        self._workers: list[Worker] = []

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the first worker in the first mode that runs here; SandboxUnavailable otherwise."""
        _remove_leftovers()
        order = modes.resolve(self.isolation)
        if self.isolation in _chosen:
            order = [_chosen[self.isolation]] + [m for m in order if m != _chosen[self.isolation]]
        refusals = []
        for mode in order:
            worker = Worker(mode, self.limits, self.use_cgroup)
            try:
                worker.start()
            except modes.SandboxUnavailable as exc:
                refusals.append(str(exc))
                continue
            self.mode, _chosen[self.isolation] = mode, mode
            self._workers = [worker]
            if refusals:
                log.info("sandbox: using %s (%s)", mode, "; ".join(refusals))
            if mode == "best_effort":
                log.warning("sandbox: running untrusted code WITHOUT a security boundary (best_effort mode, "
                            "%s=1): %s", modes.OPT_IN, "; ".join(refusals) or "requested")
            return
        raise modes.SandboxUnavailable("no sandbox mode can run here: " + "; ".join(refusals))

    @property
    def isolation_info(self) -> dict:
        return self._workers[0].isolation if self._workers else {}

    def close(self) -> None:
        for worker in self._workers:
            worker.close()
        self._workers = []

    def _run(self, jobs: Sequence[Program | Check]) -> list[Raw | str]:
        """Each job's raw outcome, or the reason it could not run."""
        if self.mode is None:
            self.start()
        mode = self.mode
        assert mode is not None
        results: list[Raw | str] = ["not run"] * len(jobs)
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for index, job in enumerate(jobs):
            todo.put((index, job))
        while len(self._workers) < min(self.size, len(jobs)):
            self._workers.append(Worker(mode, self.limits, self.use_cgroup))

        def drain(slot: int) -> None:
            worker = self._workers[slot]
            while True:
                try:
                    index, job = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    if not worker.alive:
                        worker.close()
                        worker = self._workers[slot] = Worker(mode, self.limits, self.use_cgroup)
                        worker.start()
                    results[index] = worker.run(job)
                except (OSError, modes.SandboxUnavailable) as exc:
                    log.warning("sandbox worker failed: %s", exc)
                    results[index] = f"{SANDBOX_FAILURE}: {exc}"
                    worker.close()

        threads = [threading.Thread(target=drain, args=(slot,), daemon=True)
                   for slot in range(min(self.size, len(jobs)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    def run_programs(self, codes: Sequence[str]) -> list[SandboxResult]:
        raws = self._run([Program(code) for code in codes])
        return [classify_program(r, self.limits) if isinstance(r, Raw) else
                SandboxResult("error", None, "", "", 0.0, r, self.isolation_info) for r in raws]

    def run_checks(self, checks: Sequence[Check]) -> list[CheckResult]:
        raws = self._run(checks)
        return [classify_check(r, self.limits) if isinstance(r, Raw) else
                CheckResult("error", r, "", "", 0.0, self.isolation_info) for r in raws]


def _remove_leftovers() -> None:
    """Once per process: worker cgroups and scratch directories of evaluators that were killed."""
    global _cleaned
    if _cleaned:
        return
    _cleaned = True
    plan = cgroups.discover()
    if plan:
        cgroups.remove_stale(plan)
    base = modes.scratch_base()
    with contextlib.suppress(OSError):
        for name in filter(cgroups.stale, os.listdir(base)):
            path = os.path.join(base, name)
            if os.stat(path).st_uid == os.geteuid():
                shutil.rmtree(path, ignore_errors=True)


def run_many(programs: Sequence[str], limits: SandboxLimits = DEFAULT_LIMITS, workers: int | None = None,
             isolation: str = "auto", use_cgroup: bool = True) -> list[SandboxResult]:
    """Run whole programs, each in its own sandboxed process tree; results keep the input order.
    Where no sandbox can run, every result is ``error`` with the reason."""
    try:
        with SandboxPool(limits, isolation, workers, use_cgroup) as pool:
            return pool.run_programs(programs)
    except modes.SandboxUnavailable as exc:
        return [SandboxResult("error", None, "", "", 0.0, str(exc)) for _ in programs]


def run_python(code: str, limits: SandboxLimits = DEFAULT_LIMITS, isolation: str = "auto",
               use_cgroup: bool = True) -> SandboxResult:
    """Run ``code`` as ``__main__`` in a sandbox: it passes iff it exits 0 within ``limits``."""
    return run_many([code], limits, 1, isolation, use_cgroup)[0]


def isolation_report(isolation: str = "auto") -> dict:
    """Which protections are active here, measured by running a trivial program."""
    from compass.evaluators.sandbox.inside.confine import ENV

    try:
        with SandboxPool(SandboxLimits(timeout_s=20), isolation, 1) as pool:
            probe = pool.run_programs(["pass"])[0]
            info = pool.isolation_info
    except modes.SandboxUnavailable as exc:
        return {"mode": None, "boundary": False, "probe_status": "error", "probe_reason": str(exc)}
    return {**info, "probe_status": probe.status, "probe_reason": probe.reason,
            "env": "cleared: " + ", ".join([*ENV, "HOME", "TMPDIR"]), "verdict": "tester process, plain-data channel"}
