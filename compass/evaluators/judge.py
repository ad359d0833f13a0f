"""Judge-based (subjective) evaluation: a judge model grades each answer, alone or against a baseline's.

- ``judge_single``: the judge rates the answer on a rubric (``rating_range``, default 1 to 10); a
  row's ``score`` is its rating mapped onto [0, 1]. A judgment without a readable rating is counted
  (``unparseable``) and scores ``unparseable_score``; the ``rating`` metric averages readable ones.
- ``judge_pairwise``: the judge compares the answer with the baseline model's answer to the same
  sample (same run), asked in both orders (A/B, then B/A). A verdict counts only when both orders
  agree; otherwise the pair is a tie, so a judge that favours a position cannot move the result.
  A row's ``score`` is 1 / 0.5 / 0 for win / tie / loss.

Every judgment is cached in ``judgments/<model>/<dataset>.jsonl`` under a hash of the judge's
config and the prompt, appended and fsync'ed per batch like predictions: evaluating again asks the
judge only what it has not answered yet, and a torn last line is discarded.
"""
from __future__ import annotations

import re
import sys
from dataclasses import replace
from typing import Callable

from compass.config import EvalCfg, ModelConfig, stable_hash
from compass.errors import CompassError
from compass.evaluators import POSTPROCESSORS, EvalContext, resolve
from compass.evaluators.stats import bootstrap_mean, wilson
from compass.models.base import GenerateRequest
from compass.prompts.judge_templates import compile_template
from compass.store import JsonlAppender, read_json, recover_jsonl

# Judge settings that change how judgments are fetched, never what they say: kept out of the cache
# key, so a moved server or another concurrency keeps every cached judgment.
_TRANSPORT_ONLY = {"abbr": "", "api_base": None, "api_key_env": "", "api_retries": 0, "api_timeout_s": 0.0,
                   "batch_size": 0, "device": "", "run_cfg": None}
OUTCOME_SCORE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


# -- single-answer grading ------------------------------------------------------------------------
def judge_single(rows: list[dict], cfg: EvalCfg, ctx: EvalContext) -> dict:
    ev = cfg.evaluator
    lo, hi = ev.rating_range
    template = compile_template(ev.judge_template, "judge_single", f"{ctx.dataset}: eval_cfg.evaluator.judge_template")
    extract = _extractor(cfg)
    prompts = [(row["id"], template.render(question=row["prompt"], answer=_answer(row, extract),
                                           reference=_reference(row), lo=f"{lo:g}", hi=f"{hi:g}")) for row in rows]
    judgments = JudgmentCache(ctx, ev.judge).ask(prompts)
    ratings = []
    for row, text in zip(rows, judgments):
        rating = parse_rating(text, lo, hi)
        row["judgment"], row["rating"] = text, rating
        row["score"] = ev.unparseable_score if rating is None else (rating - lo) / (hi - lo)
        if rating is not None:
            ratings.append(rating)
    metrics = _unparseable(len(rows) - len(ratings), len(rows))
    if ratings:  # on the judge's own scale, readable judgments only
        metrics["rating"] = (sum(ratings) / len(ratings), list(bootstrap_mean(ratings)))
    return metrics


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
def judge_pairwise(rows: list[dict], cfg: EvalCfg, ctx: EvalContext) -> dict:
    ev = cfg.evaluator
    extract = _extractor(cfg)
    if ctx.model == ev.baseline:  # the baseline against itself: a tie by definition, no judge call
        for row in rows:
            row["outcome"], row["score"] = "tie", OUTCOME_SCORE["tie"]
        return _outcome_rates(rows)
    baseline = _baseline_answers(ctx, ev.baseline, rows, extract)
    template = compile_template(ev.judge_template, "judge_pairwise", f"{ctx.dataset}: eval_cfg.evaluator.judge_template")
    prompts = []
    for row in rows:
        ours, theirs = _answer(row, extract), baseline[row["id"]]
        orders = [(ours, theirs), (theirs, ours)] if ev.swap else [(ours, theirs)]
        prompts += [(row["id"], template.render(question=row["prompt"], answer_a=a, answer_b=b,
                                                reference=_reference(row))) for a, b in orders]
    judgments = JudgmentCache(ctx, ev.judge).ask(prompts)
    per_row = 2 if ev.swap else 1
    # Verdicts from the evaluated model's side: in the first order it is A, in the swapped one B.
    sides = [{"A": "win", "B": "loss", "tie": "tie"}, {"A": "loss", "B": "win", "tie": "tie"}]
    unreadable = consistent = both_read = first_picked = picked = 0
    for k, row in enumerate(rows):
        texts = judgments[k * per_row:(k + 1) * per_row]
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
        row["judgments"], row["verdicts"] = texts, views
        row["outcome"] = views[0] if agreed else "tie"
        row["score"] = OUTCOME_SCORE[row["outcome"]]
    metrics = _outcome_rates(rows)
    if ev.swap and both_read:  # how often the verdict survives swapping the positions
        metrics["position_consistency"] = (consistent / both_read, list(wilson(consistent, both_read)))
    if ev.swap and picked:  # 0.5 for a judge without position bias (the answers appear once in each place)
        metrics["first_position_rate"] = (first_picked / picked, list(wilson(first_picked, picked)))
    metrics.update(_unparseable(unreadable, len(judgments)))
    return metrics


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


def _outcome_rates(rows: list[dict]) -> dict:
    n = len(rows)
    counts = {o: sum(r["outcome"] == o for r in rows) for o in OUTCOME_SCORE}
    return {f"{o}_rate": (k / n if n else 0.0, list(wilson(k, n))) for o, k in counts.items()}


def _baseline_answers(ctx: EvalContext, baseline: str, rows: list[dict], extract: Callable) -> dict[str, str]:
    path, meta = ctx.run_dir.predictions(baseline, ctx.dataset), ctx.run_dir.prediction_meta(baseline, ctx.dataset)
    if not meta.exists() or not read_json(meta).get("complete"):
        raise CompassError(f"{path}: no complete predictions of the baseline model {baseline!r} for "
                           f"{ctx.dataset!r} in this run (it must be one of the run's models, and its inference must finish)")
    answers = {str(r["id"]): _answer(r, extract) for r in recover_jsonl(path)}
    missing = [r["id"] for r in rows if r["id"] not in answers]
    if missing:
        raise CompassError(f"{path}: the baseline {baseline!r} has no prediction for {len(missing)} sample(s) "
                           f"of {ctx.model!r}, e.g. id {missing[0]!r}")
    return answers


# -- shared -----------------------------------------------------------------------------------------
class JudgmentCache:
    """The judge's answers on disk, by key; only prompts without one reach the judge."""

    def __init__(self, ctx: EvalContext, judge: ModelConfig):
        self.path = ctx.run_dir.root / "judgments" / ctx.model / f"{ctx.dataset}.jsonl"
        self.judge = judge
        self.identity = replace(judge, **_TRANSPORT_ONLY)

    def key(self, prompt: str) -> str:
        return stable_hash(self.identity, prompt)

    def ask(self, prompts: list[tuple[str, str]]) -> list[str]:
        """Judgments of (sample id, prompt) pairs, in order; each distinct prompt is asked once."""
        cached = {row["key"]: row["judgment"] for row in recover_jsonl(self.path)}
        keys = [self.key(prompt) for _, prompt in prompts]
        todo: dict[str, tuple[str, str]] = {}
        for key, item in zip(keys, prompts):
            if key not in cached:
                todo.setdefault(key, item)
        print(f"[judge] {self.path.parent.name}/{self.path.stem}: {len(set(keys)) - len(todo)} judgments cached, "
              f"{len(todo)} to ask {self.judge.abbr}", file=sys.stderr, flush=True)
        if todo:
            self._fetch(list(todo.items()), cached)
        return [cached[key] for key in keys]

    def _fetch(self, todo: list[tuple[str, tuple[str, str]]], cached: dict[str, str]) -> None:
        from compass import models  # here: a judge is built only when something is left to ask

        judge = models.build(self.judge)
        size = self.judge.batch_size  # a killed evaluation loses at most one batch of judgments
        with JsonlAppender(self.path) as out:
            for start in range(0, len(todo), size):
                batch = todo[start:start + size]
                texts = judge.generate([GenerateRequest(prompt, self.judge.max_out_len) for _, (_, prompt) in batch])
                out.append([{"key": key, "id": sid, "prompt": prompt, "judgment": text}
                            for (key, (sid, prompt)), text in zip(batch, texts)])
                cached.update((key, text) for (key, _), text in zip(batch, texts))


def _extractor(cfg: EvalCfg) -> Callable[[str], str]:
    return resolve(POSTPROCESSORS, cfg.pred_postprocessor.type if cfg.pred_postprocessor else "none")


def _answer(row: dict, extract: Callable[[str], str]) -> str:
    """The text judged: the prediction (the first, if several were sampled) after the postprocessor."""
    prediction = row["prediction"]
    return extract(str(prediction[0] if isinstance(prediction, list) and prediction else prediction))


def _reference(row: dict) -> str:
    return str(row.get("gold") or "")


def _unparseable(k: int, n: int) -> dict:
    """Judgments with no readable rating or verdict: the count (exact, hence its own interval) and the rate."""
    return {"unparseable": (k, [k, k]), "unparseable_rate": (k / n if n else 0.0, list(wilson(k, n)))}
