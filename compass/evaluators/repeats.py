"""Several completions per sample (``num_samples`` > 1): each judged on its own by an evaluator made
for one answer, then folded back per sample.

A sample's ``score`` is the fraction of its completions judged correct (avg@n), so the primary
metric's interval, a bootstrap over samples, is clustered by question: completions of one question
are not independent. ``pass@k`` is the unbiased estimator (Chen et al., 2021) and ``maj@n`` scores the
most frequent extracted answer (ties: the earliest), each with a bootstrap interval over samples. The
inner evaluator's own metrics (MATH's ``accuracy@Level N``) are kept, redone the same way: each one's
share of completions right, its interval over its questions."""
from __future__ import annotations

from collections import Counter, defaultdict

from compass.config import EvaluatorCfg
from compass.evaluators.base import Answer, EvalContext, Evaluation, Evaluator, Metric, Outcome
from compass.stats.intervals import pass_at_k, repeats_mean


def per_completion(evaluator: Evaluator, answers: list[Answer], cfg: EvaluatorCfg, ctx: EvalContext) -> Evaluation:
    expanded, owners = [], []
    for i, a in enumerate(answers):
        for extracted in a.extracted if isinstance(a.extracted, list) else [a.extracted]:
            expanded.append(Answer(a.prediction, extracted))
            owners.append(i)
    inner = evaluator(expanded, cfg, ctx)
    right = [bool(o.correct) if o.correct is not None else (o.score or 0.0) >= 1.0 for o in inner.outcomes]
    verdicts: list[list[bool]] = [[] for _ in answers]
    for owner, ok in zip(owners, right):
        verdicts[owner].append(ok)
    outcomes = [Outcome(score=sum(v) / len(v) if v else 0.0, details={"correct": v}) for v in verdicts]
    n = min((len(v) for v in verdicts), default=0)
    metrics = {}
    for k in sorted({1, n} - {0}):
        values = [pass_at_k(len(v), sum(v), k) for v in verdicts]
        metrics[f"pass@{k}"] = Metric(sum(values) / len(values), repeats_mean(values, n))
    majority = [_majority(a, v) for a, v in zip(answers, verdicts)]
    metrics[f"maj@{n}"] = Metric(sum(majority) / len(majority), repeats_mean(majority, n))
    inner_metrics, subsets = _over_questions(inner, owners, right)
    return Evaluation(outcomes, {**metrics, **inner_metrics}, inner.grids, subsets)


def _over_questions(inner: Evaluation, owners: list[int], right: list[bool]) -> tuple[dict[str, Metric],
                                                                                         dict[str, list[int]]]:
    """The inner evaluator's own metrics (MATH's per level), redone over questions: each is a mean
    over some completions (``Evaluation.subsets``), now the mean of its questions' shares right, with
    an interval clustered by question; the inner value's interval took completions as independent."""
    unknown = sorted(set(inner.metrics) - set(inner.subsets))
    if unknown:  # a metric repeats cannot redo must not vanish from the result unnoticed
        raise AssertionError(f"evaluator metric(s) {unknown} name no subset of answers (Evaluation.subsets): "
                             f"with repeats they cannot be recomputed over questions")
    metrics, subsets = {}, {}
    for name, members in inner.subsets.items():
        shares: dict[int, list[bool]] = defaultdict(list)
        for i in members:
            shares[owners[i]].append(right[i])
        if not shares:
            continue
        values = [sum(v) / len(v) for v in shares.values()]
        fewest = min(len(v) for v in shares.values())
        metrics[name] = Metric(sum(values) / len(values), repeats_mean(values, fewest))
        subsets[name] = sorted(shares)
    return metrics, subsets


def _majority(answer: Answer, verdicts: list[bool]) -> float:
    """Whether the most frequent answer is right. Every right answer equals the gold, so the right
    ones are one answer however written ("0.5", "\\frac{1}{2}"; "4", "4.0"): one vote each for the
    same answer, never split by their text. Wrong ones are told apart by their text."""
    extracted = answer.extracted if isinstance(answer.extracted, list) else [answer.extracted]
    votes = [RIGHT if ok else e.strip() for e, ok in zip(extracted, verdicts)]
    counts = Counter(votes)
    top = max(counts.values())
    return float(next(v for v in votes if counts[v] == top) is RIGHT)  # ties: the earliest completion's answer


RIGHT = object()  # the vote of every right answer
