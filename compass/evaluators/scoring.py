"""From predictions to scored rows and metrics: extract each answer, call the evaluator, then
compute the primary metric with its 95% interval, the evaluator's extra metrics and a per-group
breakdown. Every outcome is built from scratch here; nothing is carried over from an earlier
evaluation."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from compass.config import EvalCfg
from compass.errors import CompassError
from compass.evaluators import EVALUATORS, POSTPROCESSORS
from compass.evaluators.base import Answer, EvalContext, Metric, Outcome
from compass.records import Grid, GroupStat, Prediction, Scored
from compass.stats.intervals import bootstrap_mean, wilson


@dataclass(frozen=True)
class Scoring:
    scored: list[Scored]
    primary: str  # "accuracy" (binary outcomes) or "score" (graded ones)
    metrics: dict[str, Metric]  # the primary metric first
    breakdown: dict[str, GroupStat] = field(default_factory=dict)
    grids: dict[str, Grid] = field(default_factory=dict)


def score(predictions: list[Prediction], cfg: EvalCfg, ctx: EvalContext) -> Scoring:
    where = f"{ctx.model}/{ctx.dataset}"
    if not predictions:
        raise CompassError(f"{where}: no predictions to evaluate (the dataset is empty)")
    answers = [Answer(p, [ctx.extract(x) for x in p.prediction] if isinstance(p.prediction, list)
                      else ctx.extract(p.prediction)) for p in predictions]
    name = cfg.evaluator.type
    evaluation = EVALUATORS[name](answers, cfg.evaluator, ctx)
    if len(evaluation.outcomes) != len(answers):
        raise AssertionError(f"evaluator {name} returned {len(evaluation.outcomes)} outcomes for {len(answers)} answers")
    scored = [_scored(a, o, name, f"{where}: sample {a.prediction.id!r}") for a, o in zip(answers, evaluation.outcomes)]
    primary, metric = outcome_metric(scored, where)
    clash = set(evaluation.metrics) & {primary}
    if clash:
        raise AssertionError(f"evaluator {name} returned a metric named like the primary one: {clash}")
    groups: dict[str, list[Scored]] = defaultdict(list)
    for row in scored:
        if row.group is not None:
            groups[row.group].append(row)
    breakdown = {}
    for group, members in sorted(groups.items()):
        _, m = outcome_metric(members, where)
        breakdown[group] = GroupStat(len(members), m.value, list(m.ci95))
    return Scoring(scored, primary, {primary: metric, **evaluation.metrics}, breakdown, evaluation.grids)


def extractor(cfg: EvalCfg):
    return POSTPROCESSORS[cfg.pred_postprocessor.type if cfg.pred_postprocessor else "none"]


def _scored(answer: Answer, outcome: Outcome, evaluator: str, where: str) -> Scored:
    row = Scored(answer.prediction.id, evaluator, answer.extracted, outcome.correct, outcome.score,
                 answer.prediction.group, answer.prediction.cluster, outcome.details)
    row.validate(where)
    return row


def outcome_metric(rows: list[Scored], where: str) -> tuple[str, Metric]:
    """Accuracy with a Wilson interval for binary outcomes, else mean score with a bootstrap one."""
    binary = [r.correct is not None for r in rows]
    if all(binary):
        k, n = sum(bool(r.correct) for r in rows), len(rows)
        return "accuracy", Metric(k / n, wilson(k, n))
    if any(binary):
        raise CompassError(f"{where}: the evaluator gave some samples a 'correct' and others a 'score'")
    scores = [float(r.score) for r in rows if r.score is not None]
    return "score", Metric(sum(scores) / len(scores), bootstrap_mean(scores))
