"""Per-sample correctness by exact match of the extracted answer, or by numeric equality."""
from __future__ import annotations

from compass.config import EvaluatorCfg
from compass.evaluators.base import Answer, EvalContext, Evaluation, Outcome
from compass.evaluators.postprocess import normalize_number


def exact_match(answers: list[Answer], cfg: EvaluatorCfg, ctx: EvalContext) -> Evaluation:
    return Evaluation([Outcome(correct=a.first.strip() == str(a.prediction.gold).strip()) for a in answers])


def same_number(extracted: str, gold: str) -> bool:
    try:
        return abs(float(normalize_number(extracted)) - float(normalize_number(str(gold)))) < 1e-6
    except ValueError:
        return False


def numeric_match(answers: list[Answer], cfg: EvaluatorCfg, ctx: EvalContext) -> Evaluation:
    return Evaluation([Outcome(correct=same_number(a.first, a.prediction.gold)) for a in answers])
