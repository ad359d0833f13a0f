"""MATH judging: a sample is correct when its extracted answer is equivalent to the gold answer.

Equivalence is :func:`compass.evaluators.math.equiv.is_equiv` (normalised strings, then a time-bounded
symbolic check). The generic breakdown is per subject (the samples' group); this judge adds accuracy per
difficulty level as extra metrics ``accuracy@Level N``, each with its Wilson interval, and says which
samples each covers (``Evaluation.subsets``), so with repeated completions ``repeats.py`` redoes them
over questions. The level comes from the sample id (see :func:`compass.datasets.math_dataset.level_of`),
so re-scoring needs only the prediction file.
"""
from __future__ import annotations

from collections import defaultdict

from compass.config import EvaluatorCfg
from compass.datasets.math_dataset import level_of
from compass.evaluators.base import Answer, EvalContext, Evaluation, Metric, Outcome
from compass.evaluators.math.equiv import DEFAULT_TIMEOUT, is_equiv
from compass.evaluators.math.extract import extract_answer
from compass.stats.intervals import wilson


def answer(text: str) -> str:
    """The final answer of a solution: its last ``\\boxed{}``, else "The answer is ...", else the last ``$...$``."""
    return extract_answer(text) or ""


def math_equiv(answers: list[Answer], cfg: EvaluatorCfg, ctx: EvalContext) -> Evaluation:
    # timeout_s bounds each symbolic check, so one pathological answer cannot stall a run.
    timeout = cfg.timeout_s or DEFAULT_TIMEOUT
    outcomes = [Outcome(correct=is_equiv(a.first or None, str(a.prediction.gold), timeout=timeout)) for a in answers]
    levels: dict[str, list[int]] = defaultdict(list)
    for i, a in enumerate(answers):
        level = level_of(a.prediction.id)
        if level is not None:
            levels[f"accuracy@{level}"].append(i)
    subsets = dict(sorted(levels.items()))
    return Evaluation(outcomes, {name: _accuracy([bool(outcomes[i].correct) for i in members])
                                 for name, members in subsets.items()}, subsets=subsets)


def _accuracy(correct: list[bool]) -> Metric:
    return Metric(sum(correct) / len(correct), wilson(sum(correct), len(correct)))
