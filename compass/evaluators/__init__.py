"""Evaluators: per-sample outcomes from extracted answers, then metrics with 95% CIs.

An evaluator is a function ``judge(rows, cfg, ctx) -> dict`` that sets, on every prediction row,
either ``correct`` (bool) or ``score`` (float in [0, 1]), and returns any extra metrics as
``{name: (value, [lo, hi])}`` (e.g. pass@k); the key ``"grid"`` is no metric but a table copied into
the result as is (the needle evaluator's length × depth scores). The tables below are the whole registry: a config's
``type`` name maps to a module and function here and nowhere else.
"""
from __future__ import annotations

import importlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

from compass.config import EvalCfg
from compass.evaluators.stats import bootstrap_mean, wilson
from compass.store import RunDir

EVALUATORS = {
    "accuracy": "compass.evaluators.accuracy:exact_match",
    "numeric_match": "compass.evaluators.accuracy:numeric_match",
    "judge_single": "compass.evaluators.judge:judge_single",
    "judge_pairwise": "compass.evaluators.judge:judge_pairwise",
    "code_exec": "compass.evaluators.code_exec:humaneval",
    "math_equiv": "compass.evaluators.math_judge:math_equiv",
    "needle": "compass.evaluators.needle:needle",
}
POSTPROCESSORS = {
    "first_capital": "compass.evaluators.postprocess:first_capital",
    "last_number": "compass.evaluators.postprocess:last_number",
    "none": "compass.evaluators.postprocess:strip",
    "humaneval": "compass.evaluators.postprocess:humaneval_completion",
    "option_letter": "compass.evaluators.postprocess:option_letter",
    "math_answer": "compass.evaluators.math_judge:answer",
}


@dataclass(frozen=True)
class EvalContext:
    """Where the rows come from, for evaluators that need more than the rows (a judge's cache,
    a baseline model's predictions in the same run)."""

    run_dir: RunDir
    model: str
    dataset: str


def resolve(table: dict[str, str], name: str) -> Callable:
    module, function = table[name].split(":")
    return getattr(importlib.import_module(module), function)


def evaluate(rows: list[dict], cfg: EvalCfg, ctx: EvalContext) -> dict:
    """Mark every row and return ``metrics``, ``ci95``, ``primary`` and a per-group ``breakdown``."""
    extract = resolve(POSTPROCESSORS, cfg.pred_postprocessor.type if cfg.pred_postprocessor else "none")
    for row in rows:
        prediction = row["prediction"]
        row["extracted"] = [extract(str(p)) for p in prediction] if isinstance(prediction, list) else extract(str(prediction))
    extra = resolve(EVALUATORS, cfg.evaluator.type)(rows, cfg, ctx)
    # Not a metric: a structured table (needle: length x depth scores), stored in the result as is.
    grid = extra.pop("grid", None)
    primary, value, ci = outcome_metric(rows)
    metrics, ci95 = {primary: value}, {primary: ci}
    for name, (v, interval) in extra.items():
        metrics[name], ci95[name] = v, list(interval)
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("group") is not None:
            groups[str(row["group"])].append(row)
    breakdown = {}
    for group, members in sorted(groups.items()):
        _, v, interval = outcome_metric(members)
        breakdown[group] = {"n": len(members), primary: v, "ci95": interval}
    result = {"primary": primary, "metrics": metrics, "ci95": ci95, "breakdown": breakdown}
    if grid is not None:
        result["grid"] = grid
    return result


def outcome_metric(rows: list[dict]) -> tuple[str, float, list[float]]:
    """Accuracy with a Wilson interval for binary outcomes, else mean score with a bootstrap one."""
    if rows and all("correct" in r for r in rows):
        k, n = sum(bool(r["correct"]) for r in rows), len(rows)
        return "accuracy", k / n, list(wilson(k, n))
    scores = [float(r["score"]) for r in rows]
    mean = sum(scores) / len(scores) if scores else 0.0
    return "score", mean, list(bootstrap_mean(scores))
