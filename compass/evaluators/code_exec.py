"""Functional correctness (HumanEval) for prediction rows: the adapter around
``compass.evaluators.code.check_completions``.

Each completion runs with its prompt in one sandboxed process; the task's test runs in another and
calls the completion's function through a channel that carries plain data only, so the verdict is
the test's own (``check`` returned) and no object, exit or output of the completion can forge it.
Each row gets ``passed`` (one bool per completion), ``exec`` (the status and reason per
completion) and ``correct`` (one completion per task) or ``score`` = c/n (n completions); the
metrics are unbiased pass@k with bootstrap 95% intervals over tasks.
"""
from __future__ import annotations

import math

from compass.config import EvalCfg
from compass.errors import CompassError, TransientError
from compass.evaluators.code import CheckSettings, CodeTask, check_completions
from compass.evaluators.code.check import DEFAULT_TIMEOUT_S
from compass.evaluators.sandbox import SandboxUnavailable
from compass.evaluators.sandbox.pool import SANDBOX_FAILURE
from compass.stats.intervals import bootstrap_mean

DEFAULT_K = (1, 10)  # reported where every task has at least k completions
MIN_MEMORY_MB = 64


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased P(at least one of k completions passes), given c passes among n (Chen et al., 2021).

    1 - C(n-c, k) / C(n, k), written as 1 - prod_{i=n-c+1}^{n} (1 - k/i): no huge binomials, no
    cancellation.
    """
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def _task(row: dict) -> CodeTask:
    gold = row.get("gold")
    if not isinstance(gold, dict) or not {"prompt", "test", "entry_point"} <= set(gold):
        raise CompassError(f"sample {row.get('id')!r}: gold is not a HumanEval task (prompt, test, entry_point); "
                           f"code_exec needs a humaneval dataset")
    return CodeTask(str(row.get("id")), gold["prompt"], gold["test"], gold["entry_point"])


def settings_from(cfg: EvalCfg) -> CheckSettings:
    ev = cfg.evaluator
    timeout = DEFAULT_TIMEOUT_S if ev.timeout_s is None else ev.timeout_s
    if not timeout > 0:
        raise CompassError(f"eval_cfg.evaluator.timeout_s: must be > 0, got {timeout}")
    if ev.workers is not None and ev.workers < 1:
        raise CompassError(f"eval_cfg.evaluator.workers: must be >= 1, got {ev.workers}")
    if ev.memory_mb is not None and ev.memory_mb < MIN_MEMORY_MB:
        raise CompassError(f"eval_cfg.evaluator.memory_mb: must be >= {MIN_MEMORY_MB}, got {ev.memory_mb}")
    return CheckSettings(timeout_s=float(timeout), workers=ev.workers, memory_mb=ev.memory_mb)


def humaneval(rows: list[dict], cfg: EvalCfg, ctx=None) -> dict:
    if not rows:
        return {}
    settings = settings_from(cfg)
    tasks = [_task(r) for r in rows]
    completions = [[str(c) for c in (r["extracted"] if isinstance(r["extracted"], list) else [r["extracted"]])]
                   for r in rows]
    try:
        verdicts = check_completions(tasks, completions, settings)
    except SandboxUnavailable as exc:
        raise CompassError(f"code_exec: cannot run completions safely here ({exc})") from None
    flat = [v for row in verdicts for v in row]
    if flat and all(v.status == "error" for v in flat):
        raise CompassError(f"code_exec: the sandbox could not check any completion ({flat[0].reason})")
    lost = [v for v in flat if v.status == "error" and v.reason.startswith(SANDBOX_FAILURE)]
    if lost:  # a worker that would not start: not the completions' fault, and no number to report
        raise TransientError(f"code_exec: {len(lost)} completions could not be checked ({lost[0].reason})")
    single = all(len(c) == 1 for c in completions)
    for row, row_verdicts in zip(rows, verdicts):
        row["passed"] = [v.passed for v in row_verdicts]
        row["exec"] = [{"status": v.status, "reason": v.reason} for v in row_verdicts]
        row.pop("score" if single else "correct", None)  # stale outcome of an earlier evaluation
        if single:
            row["correct"] = row["passed"][0]
        else:
            row["score"] = sum(row["passed"]) / len(row_verdicts) if row_verdicts else 0.0
    return _pass_at_k_metrics(rows, cfg)


def _pass_at_k_metrics(rows: list[dict], cfg: EvalCfg) -> dict:
    fewest = min(len(r["passed"]) for r in rows)
    if cfg.evaluator.k is None:
        ks = [k for k in DEFAULT_K if k <= fewest]
    else:
        ks = list(dict.fromkeys(cfg.evaluator.k))
        for k in ks:
            if not 1 <= k <= fewest:
                raise CompassError(f"eval_cfg.evaluator.k: pass@{k} needs 1 <= k <= completions per task, and a task "
                                   f"has {fewest} (raise infer_cfg.inferencer.num_samples)")
    metrics = {}
    for k in ks:
        values = [pass_at_k(len(r["passed"]), sum(r["passed"]), k) for r in rows]
        metrics[f"pass@{k}"] = (sum(values) / len(values), bootstrap_mean(values))
    return metrics
