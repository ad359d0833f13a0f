"""Functional correctness (HumanEval): the evaluator around ``compass.evaluators.code.check_completions``.

Each completion runs with its prompt in one sandboxed process; the task's test runs in another and
calls the completion's function through a channel that carries plain data only, so the verdict is
the test's own (``check`` returned) and no object, exit or output of the completion can forge it.
Each answer gets ``correct`` (one completion per task) or ``score`` = c/n (n completions), with
``passed`` (one bool per completion) and ``exec`` (the status and reason per completion) in its
details; the metrics are unbiased pass@k with bootstrap 95% intervals over tasks.
"""
from __future__ import annotations

from compass.config import EvaluatorCfg
from compass.errors import CompassError, TransientError
from compass.evaluators.base import Answer, EvalContext, Evaluation, Metric, Outcome
from compass.evaluators.code import CheckSettings, CodeTask, check_completions
from compass.evaluators.code.check import DEFAULT_TIMEOUT_S
from compass.evaluators.sandbox import SandboxUnavailable
from compass.evaluators.sandbox.pool import SANDBOX_FAILURE
from compass.stats.intervals import pass_at_k, repeats_mean

DEFAULT_K = (1, 10)  # reported where every task has at least k completions
MIN_MEMORY_MB = 64


def _task(answer: Answer) -> CodeTask:
    gold = answer.prediction.gold
    if not isinstance(gold, dict) or not {"prompt", "test", "entry_point"} <= set(gold):
        raise CompassError(f"sample {answer.prediction.id!r}: gold is not a HumanEval task (prompt, test, "
                           f"entry_point); code_exec needs a humaneval dataset")
    return CodeTask(answer.prediction.id, gold["prompt"], gold["test"], gold["entry_point"])


def settings_from(ev: EvaluatorCfg) -> CheckSettings:
    timeout = DEFAULT_TIMEOUT_S if ev.timeout_s is None else ev.timeout_s
    if not timeout > 0:
        raise CompassError(f"eval_cfg.evaluator.timeout_s: must be > 0, got {timeout}")
    if ev.workers is not None and ev.workers < 1:
        raise CompassError(f"eval_cfg.evaluator.workers: must be >= 1, got {ev.workers}")
    if ev.memory_mb is not None and ev.memory_mb < MIN_MEMORY_MB:
        raise CompassError(f"eval_cfg.evaluator.memory_mb: must be >= {MIN_MEMORY_MB}, got {ev.memory_mb}")
    return CheckSettings(timeout_s=float(timeout), workers=ev.workers, memory_mb=ev.memory_mb)


def evaluate(answers: list[Answer], ev: EvaluatorCfg, ctx: EvalContext | None = None) -> Evaluation:
    """Each answer's completions checked: ``correct`` with one completion per task, else ``score`` = c/n;
    the details hold ``passed`` and ``exec`` (status and reason) per completion; pass@k metrics."""
    if not answers:
        return Evaluation([])
    settings = settings_from(ev)
    tasks = [_task(a) for a in answers]
    completions = [[str(c) for c in (a.extracted if isinstance(a.extracted, list) else [a.extracted])] for a in answers]
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
    outcomes, passed = [], []
    for row_verdicts in verdicts:
        ok = [v.passed for v in row_verdicts]
        passed.append(ok)
        details = {"passed": ok, "exec": [{"status": v.status, "reason": v.reason} for v in row_verdicts]}
        outcomes.append(Outcome(correct=ok[0], details=details) if single
                        else Outcome(score=sum(ok) / len(ok) if ok else 0.0, details=details))
    return Evaluation(outcomes, _pass_at_k_metrics(passed, ev))


def _pass_at_k_metrics(passed: list[list[bool]], ev: EvaluatorCfg) -> dict[str, Metric]:
    fewest = min(len(p) for p in passed)
    if ev.k is None:
        ks = [k for k in DEFAULT_K if k <= fewest]
    else:
        ks = list(dict.fromkeys(ev.k))
        for k in ks:
            if not 1 <= k <= fewest:
                raise CompassError(f"eval_cfg.evaluator.k: pass@{k} needs 1 <= k <= completions per task, and a task "
                                   f"has {fewest} (raise infer_cfg.inferencer.num_samples)")
    metrics = {}
    for k in ks:
        values = [pass_at_k(len(p), sum(p), k) for p in passed]
        metrics[f"pass@{k}"] = Metric(sum(values) / len(values), repeats_mean(values, fewest))
    return metrics
