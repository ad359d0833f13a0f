"""Judge-based (subjective) evaluation: a judge model grades each answer, alone or against a baseline's.

- ``judge_single``: the judge rates the answer on a rubric (``rating_range``, default 1 to 10); a
  row's ``score`` is its rating mapped onto [0, 1]. A judgment without a readable rating is counted
  (``unparseable``) and scores ``unparseable_score``; the ``rating`` metric averages readable ones.
- ``judge_pairwise``: the judge compares the answer with the baseline model's answer to the same
  sample (same run), asked in both orders (A/B, then B/A). A verdict counts only when both orders
  agree; otherwise the pair is a tie, so a judge that favours a position cannot move the result.
  A row's ``score`` is 1 / 0.5 / 0 for win / tie / loss. The baseline's answer is read as ours is:
  its thinking stripped (its own ``think_tags`` / ``think_open``, planned into ``baseline_thinking``),
  then extracted. An empty answer (the thinking never closed, or nothing followed it) is no answer
  and is not shown to the judge: it loses to an answer, and two of them tie (``no_answer`` counts
  such rows).

Every judgment is cached in ``judgments/<model>/<dataset>.jsonl`` under a hash of the judge's
config and the prompt, appended and fsync'ed per batch like predictions: evaluating again asks the
judge only what it has not answered yet, and a torn last line is discarded.
"""
from __future__ import annotations

import logging
import re

from compass import records
from compass.config import EvaluatorCfg, ModelConfig, stable_hash, without
from compass.errors import CompassError, PartialResults
from compass.evaluators.base import Answer, EvalContext, Evaluation, Metric, Outcome
from compass.evaluators.thinking import split_thinking
from compass.models.base import Completion, GenerateRequest
from compass.prompts.judge_templates import compile_template
from compass.records import Judgment, Prediction
from compass.resume import read_complete
from compass.stats.intervals import bootstrap_mean, wilson

log = logging.getLogger(__name__)

# Judge settings that change how judgments are fetched, never what they say: kept out of the cache
# key, so a moved server or another concurrency keeps every cached judgment.
_TRANSPORT_ONLY = ("abbr", "api_base", "api_key_env", "api_retries", "api_timeout_s", "batch_size", "device", "run_cfg")
# What judgments cost, never what they say: blanked in the key (unpriced judges keep theirs), so a
# corrected price re-buys nothing; what was spent is restated at it (``JudgeMeter``).
_COST_ONLY = ("price_per_mtok",)
OUTCOME_SCORE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


# -- single-answer grading ------------------------------------------------------------------------
def judge_single(answers: list[Answer], ev: EvaluatorCfg, ctx: EvalContext) -> Evaluation:
    lo, hi = ev.rating_range
    template = compile_template(ev.judge_template, "judge_single", f"{ctx.dataset}: eval_cfg.evaluator.judge_template")
    prompts = [(a.prediction.id, template.render(question=a.prediction.prompt, answer=a.first,
                                                 reference=_reference(a.prediction), lo=f"{lo:g}", hi=f"{hi:g}"))
               for a in answers]
    judgments = JudgmentCache(ctx, _judge(ev)).ask(prompts)
    ratings, outcomes = [], []
    for text in judgments:
        rating = parse_rating(text, lo, hi)
        score = ev.unparseable_score if rating is None else (rating - lo) / (hi - lo)
        outcomes.append(Outcome(score=score, details={"judgment": text, "rating": rating}))
        if rating is not None:
            ratings.append(rating)
    metrics = _unparseable(len(answers) - len(ratings), len(answers))
    if ratings:  # on the judge's own scale, readable judgments only
        metrics["rating"] = Metric(sum(ratings) / len(ratings), bootstrap_mean(ratings))
    return Evaluation(outcomes, metrics)


_NUM = r"(-?\d+(?:\.\d+)?)"
_RATING_BRACKETS = re.compile(r"\[\[\s*" + _NUM + r"\s*(?:/\s*\d+(?:\.\d+)?\s*)?\]\]")  # [[7]], [[7/10]]
_RATING_OUT_OF = re.compile(_NUM + r"\s*(?:/|out of)\s*" + _NUM, re.I)  # 7/10, 7 out of 10
_RATING_LABELLED = re.compile(r"\b(?:rating|score|grade)s?\b\W{0,6}?(?:(?:is|of)\W{1,4}?)?" + _NUM, re.I)
_RATING_BARE = re.compile(r"\W{0,4}?" + _NUM + r"\W{0,4}")  # the whole judgment is a number


def parse_rating(text: str, lo: float, hi: float) -> float | None:
    """The rating in a judgment, or None. The asked-for ``[[N]]`` wins over "N/hi", which wins
    over "Rating: N"; the last occurrence counts (judges restate their rating at the end).
    A rating outside [lo, hi] is unreadable, not clamped."""
    found = _RATING_BRACKETS.findall(text)
    if not found:
        found = [n for n, d in _RATING_OUT_OF.findall(text) if float(d) == hi]
    if not found:
        found = _RATING_LABELLED.findall(text)
    if not found:
        bare = _RATING_BARE.fullmatch(text.strip())
        found = [bare.group(1)] if bare else []
    if not found:
        return None
    value = float(found[-1])
    return value if lo <= value <= hi else None


# -- pairwise comparison ----------------------------------------------------------------------------
def judge_pairwise(answers: list[Answer], ev: EvaluatorCfg, ctx: EvalContext) -> Evaluation:
    if ctx.model == ev.baseline:  # the baseline against itself: a tie by definition, no judge call
        return Evaluation([Outcome(score=OUTCOME_SCORE["tie"], details={"outcome": "tie"}) for _ in answers],
                          _outcome_rates(["tie"] * len(answers)))
    assert ev.baseline is not None  # config validation requires it
    baseline = _baseline_answers(ctx, ev, answers)
    pairs = [(a.first, baseline[a.prediction.id]) for a in answers]
    unanswered = [_no_answer(ours, theirs) for ours, theirs in pairs]
    prompts = _pairwise_prompts(answers, pairs, unanswered, ev, ctx)
    judgments = iter(JudgmentCache(ctx, _judge(ev)).ask(prompts))
    per_row = 2 if ev.swap else 1
    # Verdicts from the evaluated model's side: in the first order it is A, in the swapped one B.
    sides = [{"A": "win", "B": "loss", "tie": "tie"}, {"A": "loss", "B": "win", "tie": "tie"}]
    unreadable = consistent = both_read = first_picked = picked = 0
    outcomes, decided = [], []
    for missing in unanswered:
        if missing:  # nothing to judge: an answer beats none
            decided.append(NO_ANSWER_OUTCOME[missing])
            outcomes.append(Outcome(score=OUTCOME_SCORE[decided[-1]], details={
                "judgments": [], "verdicts": [], "outcome": decided[-1], "no_answer": missing}))
            continue
        texts = [next(judgments) for _ in range(per_row)]
        letters = [parse_verdict(t) for t in texts]
        views = [sides[i].get(letter) if letter else None for i, letter in enumerate(letters)]
        unreadable += views.count(None)
        if ev.swap and None not in views:
            both_read += 1
            consistent += views[0] == views[1]
        first_picked += letters.count("A")
        picked += letters.count("A") + letters.count("B")
        # Disagreeing orders (win/loss, or win/tie) and unreadable verdicts make a tie.
        agreed = views[0] is not None and all(v == views[0] for v in views)
        outcome = views[0] if agreed and views[0] is not None else "tie"
        decided.append(outcome)
        outcomes.append(Outcome(score=OUTCOME_SCORE[outcome],
                                details={"judgments": texts, "verdicts": views, "outcome": outcome}))
    metrics = _outcome_rates(decided)
    if ev.swap and both_read:  # how often the verdict survives swapping the positions
        metrics["position_consistency"] = Metric(consistent / both_read, wilson(consistent, both_read))
    if ev.swap and picked:  # 0.5 for a judge without position bias (the answers appear once in each place)
        metrics["first_position_rate"] = Metric(first_picked / picked, wilson(first_picked, picked))
    metrics.update(_unparseable(unreadable, len(prompts)))
    k = sum(1 for m in unanswered if m)
    metrics["no_answer"] = Metric(k, (k, k))  # rows decided without the judge (an exact count)
    return Evaluation(outcomes, metrics)


def _pairwise_prompts(answers: list[Answer], pairs: list[tuple[str, str]], unanswered: list[str | None],
                      ev: EvaluatorCfg, ctx: EvalContext) -> list[tuple[str, str]]:
    """(sample id, judge prompt) for each pair with two answers: ours as A, then (swap) as B."""
    template = compile_template(ev.judge_template, "judge_pairwise", f"{ctx.dataset}: eval_cfg.evaluator.judge_template")
    prompts = []
    for a, (ours, theirs), missing in zip(answers, pairs, unanswered):
        orders = [] if missing else [(ours, theirs), (theirs, ours)] if ev.swap else [(ours, theirs)]
        prompts += [(a.prediction.id, template.render(question=a.prediction.prompt, answer_a=x, answer_b=y,
                                                      reference=_reference(a.prediction))) for x, y in orders]
    return prompts


NO_ANSWER_OUTCOME = {"model": "loss", "baseline": "win", "both": "tie"}  # by the side without an answer


def _no_answer(ours: str, theirs: str) -> str | None:
    """Which side of a pair has no answer to show the judge ("model", "baseline", "both"), or None."""
    empty = (not ours.strip(), not theirs.strip())
    return {(True, False): "model", (False, True): "baseline", (True, True): "both"}.get(empty)


_VERDICT_BRACKETS = re.compile(r"\[\[\s*(A|B|C|(?i:tie))\s*\]\]")
_VERDICT_LABELLED = re.compile(r"(?i:\b(?:final verdict|verdict|winner|better (?:response|answer)))\W{0,6}?"
                               r"(?:(?i:is)\W{1,4}?)?(?:(?i:response|answer|assistant)\s+|a\s+)?\(?\b(A|B|C|(?i:tie))\b")
_VERDICT_SENTENCE = re.compile(r"(?i:\b(?:response|answer|assistant))\s+\(?(A|B)\)?\s+(?i:is\s+(?:better|superior|preferred))")


def parse_verdict(text: str) -> str | None:
    """"A", "B" or "tie" from a pairwise judgment, or None: ``[[A]]``/``[[B]]``/``[[C]]`` first, then
    "Verdict: A", then "Response B is better"; the last occurrence counts. Letters must be capitals
    (so "a tie" never reads as A)."""
    for pattern in (_VERDICT_BRACKETS, _VERDICT_LABELLED, _VERDICT_SENTENCE):
        found = pattern.findall(text)
        if found:
            letter = found[-1]
            return letter if letter in ("A", "B") else "tie"
    return None


def _outcome_rates(outcomes: list[str]) -> dict[str, Metric]:
    n = len(outcomes)
    counts = {o: outcomes.count(o) for o in OUTCOME_SCORE}
    return {f"{o}_rate": Metric(k / n if n else 0.0, wilson(k, n)) for o, k in counts.items()}


def _baseline_answers(ctx: EvalContext, ev: EvaluatorCfg, answers: list[Answer]) -> dict[str, str]:
    """The baseline model's answers to the same samples, from its predictions in this run, read as
    ours are: its thinking stripped (empty when it never closed), then extracted by the same
    postprocessor."""
    baseline = str(ev.baseline)
    path = ctx.run_dir.predictions(baseline, ctx.dataset)
    try:
        theirs = {p.id: split_thinking(p.prediction[0] if isinstance(p.prediction, list) else p.prediction,
                                       ev.baseline_thinking).extracted(ctx.extract)
                  for p in read_complete(ctx.run_dir, baseline, ctx.dataset)}
    except CompassError as exc:
        raise CompassError(f"baseline model {baseline!r} (it must be one of the run's models, and its inference "
                           f"must finish): {exc}") from None
    missing = [a.prediction.id for a in answers if a.prediction.id not in theirs]
    if missing:
        raise CompassError(f"{path}: the baseline {baseline!r} has no prediction for {len(missing)} sample(s) "
                           f"of {ctx.model!r}, e.g. id {missing[0]!r}")
    return theirs


# -- shared -----------------------------------------------------------------------------------------
class JudgmentCache:
    """The judge's answers on disk, by key; only prompts without one reach the judge."""

    def __init__(self, ctx: EvalContext, judge: ModelConfig):
        self.path = ctx.run_dir.judgments(ctx.model, ctx.dataset)
        self.run_dir, self.usage = ctx.run_dir, ctx.run_dir.judge_usage(ctx.model, ctx.dataset)
        self.judge = judge
        self.identity = {**without(judge, _TRANSPORT_ONLY), **dict.fromkeys(_COST_ONLY)}

    def key(self, prompt: str) -> str:
        return stable_hash(self.identity, prompt)

    def ask(self, prompts: list[tuple[str, str]]) -> list[str]:
        """Judgments of (sample id, prompt) pairs, in order; each distinct prompt is asked once."""
        cached = {j.key: j.judgment for j in records.read_log(self.path, Judgment).records}
        keys = [self.key(prompt) for _, prompt in prompts]
        todo: dict[str, tuple[str, str]] = {}
        for key, item in zip(keys, prompts):
            if key not in cached:
                todo.setdefault(key, item)
        log.info("[judge] %s/%s: %d judgments cached, %d to ask %s", self.path.parent.name, self.path.stem,
                 len(set(keys)) - len(todo), len(todo), self.judge.abbr)
        if todo:
            self._fetch(list(todo.items()), cached)
        return [cached[key] for key in keys]

    def _fetch(self, todo: list[tuple[str, tuple[str, str]]], cached: dict[str, str]) -> None:
        from compass import models  # here: a judge is built only when something is left to ask
        from compass.tasks.usage import JudgeMeter

        judge = models.build(self.judge)
        meter = JudgeMeter(self.run_dir, self.usage, self.judge, judge)
        size = self.judge.batch_size  # a killed evaluation loses at most one batch of judgments
        with records.Appender(self.path) as out:
            for start in range(0, len(todo), size):
                batch = todo[start:start + size]
                meter.check()  # the run's cost limit counts the judge's requests too
                try:
                    texts = [_text(c) for c in judge.generate([GenerateRequest(prompt, self.judge.max_out_len)
                                                               for _, (_, prompt) in batch])]
                except PartialResults as partial:  # keep the judgments that came back; the rest fail the task
                    done = [(batch[i], _one(v)) for i, v in sorted(partial.done.items())]
                    out.append([Judgment(key, text, sid, prompt) for (key, (sid, prompt)), text in done])
                    _log_retries(judge)
                    raise partial.cause from None
                finally:
                    meter.record()  # what a failed batch spent still counts
                out.append([Judgment(key, text, sid, prompt) for (key, (sid, prompt)), text in zip(batch, texts)])
                cached.update((key, text) for (key, _), text in zip(batch, texts))
        _log_retries(judge)


def _one(completions: object) -> str:
    return _text(completions[0] if isinstance(completions, list) else completions)


def _text(completion: object) -> str:
    return completion.text if isinstance(completion, Completion) else str(completion)


def _log_retries(judge: object) -> None:
    retries = getattr(judge, "retries", None)
    if retries:
        log.warning("[judge] requests retried, by cause: %s", dict(retries))


def _judge(ev: EvaluatorCfg) -> ModelConfig:
    assert isinstance(ev.judge, ModelConfig)  # config validation reads the dict into a ModelConfig
    return ev.judge


def _reference(prediction: Prediction) -> str:
    return str(prediction.gold or "")


def _unparseable(k: int, n: int) -> dict[str, Metric]:
    """Judgments with no readable rating or verdict: the count (exact, hence its own interval) and the rate."""
    return {"unparseable": Metric(k, (k, k)), "unparseable_rate": Metric(k / n if n else 0.0, wilson(k, n))}
