"""Repeated completions (``num_samples`` > 1) keep the inner evaluator's own metrics, recomputed over
questions: MATH's per-level accuracy with an interval clustered by question."""
from __future__ import annotations

import pytest

from compass.config import ComponentCfg, EvalCfg, EvaluatorCfg
from compass.evaluators.base import Answer, Evaluation, Metric, Outcome
from compass.evaluators.repeats import per_completion
from compass.stats.intervals import repeats_mean, wilson

from helpers import make_predictions, score_rows

MATH = EvalCfg(EvaluatorCfg("math_equiv"), ComponentCfg("math_answer"))
RIGHT, WRONG = "so $\\boxed{\\frac{1}{2}}$.", "The answer is $\\boxed{3}$"  # against gold \frac12

# subject, level, question: which of its 4 completions are right
FIXTURE = [("algebra", 1, 1, "1111"), ("algebra", 1, 2, "1111"), ("geometry", 1, 3, "1111"),  # level 1: all right
           ("algebra", 2, 4, "1100"), ("geometry", 2, 5, "1000"), ("geometry", 2, 6, "1110"),  # level 2: mixed
           ("number_theory", 4, 7, "0000"), ("number_theory", 4, 8, "1111")]                 # level 4: 0 and 4 of 4


def _rows(completions: int | None = 4) -> list[dict]:
    """One row per question; ``completions=None``: its first completion alone, as a plain string."""
    rows = []
    for subject, level, n, right in FIXTURE:
        texts = [RIGHT if r == "1" else WRONG for r in right[:completions or 1]]
        rows.append({"id": f"{subject}/level{level}/{n}", "gold": "\\frac12", "group": subject,
                     "prediction": texts if completions else texts[0]})
    return rows


def _per_question(level: int) -> list[float]:
    return [right.count("1") / len(right) for _, lv, _, right in FIXTURE if lv == level]


def test_math_levels_survive_repeats_with_intervals_over_questions():
    """With 4 completions per question the result had pass@k, maj@4 and the avg@4 score, and no
    ``accuracy@Level N`` at all. Each level is now the share of its completions judged right, with
    the interval of the level's questions (``repeats_mean``): level 1's three questions right 4 of 4
    times are 3 right of 3, not 12 independent successes."""
    out = score_rows(_rows(), MATH)
    assert out.primary == "score"
    levels = {k for k in out.metrics if k.startswith("accuracy@")}
    assert levels == {"accuracy@Level 1", "accuracy@Level 2", "accuracy@Level 4"}
    for level in (1, 2, 4):
        values = _per_question(level)
        metric = out.metrics[f"accuracy@Level {level}"]
        assert metric.value == pytest.approx(sum(values) / len(values))
        assert metric.ci95 == repeats_mean(values, 4)
    assert out.metrics["accuracy@Level 1"].ci95 == wilson(3, 3) != wilson(12, 12)
    assert out.metrics["accuracy@Level 2"].value == pytest.approx(6 / 12)
    assert out.metrics["accuracy@Level 4"].ci95 == wilson(1, 2)  # repeats that agree: a proportion of 2 questions
    for name in ("pass@1", "pass@4", "maj@4"):  # the repeats' own metrics stay
        assert name in out.metrics


def test_subject_breakdown_with_repeats_is_over_questions():
    out = score_rows(_rows(), MATH)
    algebra = [right.count("1") / 4 for subject, _, _, right in FIXTURE if subject == "algebra"]
    assert out.breakdown["algebra"].n == 3
    assert out.breakdown["algebra"].value == pytest.approx(sum(algebra) / 3)
    assert tuple(out.breakdown["algebra"].ci95) == repeats_mean(algebra, 4)


def test_one_completion_keeps_wilson_per_level():
    out = score_rows(_rows(None), MATH)
    assert out.primary == "accuracy"
    assert out.metrics["accuracy@Level 2"] == Metric(1.0, wilson(3, 3))  # each first completion is right
    assert out.metrics["accuracy@Level 4"] == Metric(0.5, wilson(1, 2))


def test_a_metric_repeats_cannot_recompute_is_an_error_not_a_silent_drop():
    """An evaluator judged per completion that returns a metric without saying which answers it
    averages: repeats cannot redo it per question, and dropping it silently was the bug."""
    def counting(answers: list[Answer], cfg, ctx) -> Evaluation:
        return Evaluation([Outcome(correct=True) for _ in answers], {"long_answers": Metric(0.0, (0.0, 1.0))})

    answers = [Answer(p, ["1", "1"]) for p in make_predictions([{"id": "a", "gold": "1", "prediction": ["1", "1"]}])]
    with pytest.raises(AssertionError, match="long_answers"):
        per_completion(counting, answers, EvaluatorCfg("accuracy"), None)  # type: ignore[arg-type]
