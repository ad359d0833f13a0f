"""MATH judging: a sample is correct when its extracted answer is equivalent to the gold answer.

Equivalence is :func:`compass.evaluators.math_equiv.is_equiv` (normalised strings, then a time-bounded
symbolic check). The generic breakdown is per subject (the samples' group); this judge adds accuracy per
difficulty level as extra metrics ``accuracy@Level N``, each with its Wilson interval. The level comes
from the sample id (see :func:`compass.datasets.math_dataset.level_of`), so re-scoring needs only the
prediction file.
"""
from __future__ import annotations

from collections import defaultdict

from compass.config import EvalCfg
from compass.datasets.math_dataset import level_of
from compass.evaluators.math_equiv import DEFAULT_TIMEOUT, extract_answer, is_equiv
from compass.evaluators.stats import wilson


def answer(text: str) -> str:
    """The final answer of a solution: its last ``\\boxed{}``, else "The answer is ...", else the last ``$...$``."""
    return extract_answer(text) or ""


def math_equiv(rows: list[dict], cfg: EvalCfg, ctx=None) -> dict:
    # evaluator.timeout_s bounds each symbolic check, so one pathological answer cannot stall a run.
    timeout = cfg.evaluator.timeout_s or DEFAULT_TIMEOUT
    by_level: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        row["correct"] = is_equiv(str(row["extracted"]) or None, str(row["gold"]), timeout=timeout)
        level = level_of(str(row["id"]))
        if level is not None:
            by_level[level].append(row["correct"])
    return {f"accuracy@{level}": (sum(outcomes) / len(outcomes), wilson(sum(outcomes), len(outcomes)))
            for level, outcomes in sorted(by_level.items())}
