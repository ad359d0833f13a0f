"""Evaluators and answer extractors, by the names configs use.

The two tables below are the whole mapping from a config's ``type`` to code; the alias tables next
to them accept OpenCompass's class names. Config validation reads them (``compass.config``), and
``compass.evaluators.scoring`` calls them. Entries whose implementation imports something slow
(sympy, the sandbox) go through a small function that imports it when first called, so loading a
config stays fast.
"""
from __future__ import annotations

from collections.abc import Callable

from compass.config import EvaluatorCfg
from compass.evaluators import accuracy, needle, postprocess
from compass.evaluators.base import Answer, EvalContext, Evaluation, Evaluator, Metric, Outcome


def _judge_single(answers: list[Answer], cfg: EvaluatorCfg, ctx: EvalContext) -> Evaluation:
    from compass.evaluators.judge import judge_single

    return judge_single(answers, cfg, ctx)


def _judge_pairwise(answers: list[Answer], cfg: EvaluatorCfg, ctx: EvalContext) -> Evaluation:
    from compass.evaluators.judge import judge_pairwise

    return judge_pairwise(answers, cfg, ctx)


def _math_equiv(answers: list[Answer], cfg: EvaluatorCfg, ctx: EvalContext) -> Evaluation:
    from compass.evaluators.math.judge import math_equiv

    return math_equiv(answers, cfg, ctx)


def _code_exec(answers: list[Answer], cfg: EvaluatorCfg, ctx: EvalContext) -> Evaluation:
    from compass.evaluators.code_exec import evaluate

    return evaluate(answers, cfg, ctx)


EVALUATORS: dict[str, Evaluator] = {
    "accuracy": accuracy.exact_match,
    "numeric_match": accuracy.numeric_match,
    "judge_single": _judge_single,
    "judge_pairwise": _judge_pairwise,
    "code_exec": _code_exec,
    "math_equiv": _math_equiv,
    "needle": needle.needle,
}
# Evaluators that judge one answer against gold: with several completions per sample, each is judged
# on its own and the sample scores the fraction correct (avg@n), with pass@k and maj@n (``repeats.py``).
PER_COMPLETION = {"accuracy", "numeric_match", "math_equiv"}
EVALUATOR_ALIASES = {"AccEvaluator": "accuracy", "JudgeSingleEvaluator": "judge_single",
                     "JudgePairwiseEvaluator": "judge_pairwise", "Gsm8kEvaluator": "numeric_match",
                     "NumericMatchEvaluator": "numeric_match", "HumanEvalEvaluator": "code_exec",
                     "HumanEvaluator": "code_exec", "MATHEvaluator": "math_equiv", "NeedleEvaluator": "needle"}


def _math_answer(text: str) -> str:
    from compass.evaluators.math.judge import answer

    return answer(text)


POSTPROCESSORS: dict[str, Callable[[str], str]] = {
    "none": postprocess.strip,
    "first_capital": postprocess.first_capital,
    "last_number": postprocess.last_number,
    "humaneval": postprocess.humaneval_completion,
    "option_letter": postprocess.option_letter,
    "math_answer": _math_answer,
}
POSTPROCESSOR_ALIASES = {"first_option": "first_capital", "gsm8k": "last_number",
                         "humaneval_postprocess": "humaneval", "humaneval_postprocess_v2": "humaneval",
                         "first_option_postprocess": "option_letter", "math_postprocess": "math_answer"}

__all__ = ["EVALUATORS", "EVALUATOR_ALIASES", "POSTPROCESSORS", "POSTPROCESSOR_ALIASES",
           "Answer", "EvalContext", "Evaluation", "Evaluator", "Metric", "Outcome"]
