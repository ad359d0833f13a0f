"""From predictions to scored rows and metrics: extract each answer, call the evaluator, then
compute the primary metric with its 95% interval, the evaluator's extra metrics and a per-group
breakdown. Every outcome is built from scratch here; nothing is carried over from an earlier
evaluation."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from compass.config import EvalCfg
from compass.errors import CompassError
from compass.evaluators import EVALUATORS, PER_COMPLETION, POSTPROCESSORS
from compass.evaluators.base import Answer, EvalContext, Metric, Outcome
from compass.evaluators.repeats import per_completion
from compass.evaluators.thinking import split_thinking
from compass.records import Grid, GroupStat, Prediction, Scored
from compass.stats.intervals import bootstrap_mean, repeats_mean, wilson


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
    answers, unclosed = [], []
    for p in predictions:
        splits = [split_thinking(x, ctx.thinking) for x in _texts(p)]
        extracted = [s.extracted(ctx.extract) for s in splits]
        answers.append(Answer(p, extracted if isinstance(p.prediction, list) else extracted[0]))
        unclosed.append([not s.closed for s in splits])
    name = cfg.evaluator.type
    repeated = any(isinstance(a.extracted, list) for a in answers) and name in PER_COMPLETION
    evaluation = (per_completion(EVALUATORS[name], answers, cfg.evaluator, ctx) if repeated
                  else EVALUATORS[name](answers, cfg.evaluator, ctx))
    if len(evaluation.outcomes) != len(answers):
        raise AssertionError(f"evaluator {name} returned {len(evaluation.outcomes)} outcomes for {len(answers)} answers")
    scored = [_scored(a, o, name, f"{where}: sample {a.prediction.id!r}", u)
              for a, o, u in zip(answers, evaluation.outcomes, unclosed)]
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
    extra = {**evaluation.metrics, **truncation(predictions, unclosed)}
    return Scoring(scored, primary, {primary: metric, **extra}, breakdown, evaluation.grids)


def _texts(p: Prediction) -> list[str]:
    return list(p.prediction) if isinstance(p.prediction, list) else [p.prediction]


def truncation(predictions: list[Prediction], unclosed: list[list[bool]]) -> dict[str, Metric]:
    """``truncated``: the share of generated completions cut by the length cap (or whose thinking never
    closed), with its Wilson interval, or with repeats one over questions (``repeats_mean``: the
    completions of a question are not independent); absent when nothing says how completions ended
    (log-likelihood)."""
    per_question = [[reason == "length" or u for reason, u in zip(
        p.finish_reason if isinstance(p.finish_reason, list) else [p.finish_reason], us)]
        for p, us in zip(predictions, unclosed) if p.finish_reason is not None]
    ended = [cut for cuts in per_question for cut in cuts]
    if not ended:
        return {}
    # One completion per question: each share is 0 or 1, and repeats_mean is Wilson over them.
    ci = repeats_mean([sum(cuts) / len(cuts) for cuts in per_question], min(map(len, per_question)))
    return {"truncated": Metric(sum(ended) / len(ended), ci)}


def extractor(cfg: EvalCfg):
    return POSTPROCESSORS[cfg.pred_postprocessor.type if cfg.pred_postprocessor else "none"]


def _scored(answer: Answer, outcome: Outcome, evaluator: str, where: str, unclosed: list[bool]) -> Scored:
    details = {**outcome.details, "unclosed_thinking": unclosed} if any(unclosed) else outcome.details
    row = Scored(answer.prediction.id, evaluator, answer.extracted, outcome.correct, outcome.score,
                 answer.prediction.group, answer.prediction.cluster, details)
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
    repeats = [len(r.details["correct"]) for r in rows if isinstance(r.details.get("correct"), list)]
    if len(repeats) == len(rows):  # avg@n of repeated completions (evaluators/repeats.py)
        return "score", Metric(sum(scores) / len(scores), repeats_mean(scores, min(repeats)))
    return "score", Metric(sum(scores) / len(scores), bootstrap_mean(scores))
