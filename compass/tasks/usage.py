"""What inference spends, kept per dataset in its meta file as it goes: time, tokens, retries and, for
priced models, money (a judge model's, beside its judgments). A run with a cost limit stops cleanly
once the whole run's spending reaches it: the next batch is not sent, everything done so far stays,
and ``-r`` with a higher limit goes on from there. Cost is always the recorded tokens at the
model's price now: a price corrected before ``-r`` restates what was spent (``reprice``)."""
from __future__ import annotations

import logging
import os
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from compass import records
from compass.config import ModelConfig
from compass.errors import CompassError
from compass.records import JudgeUsage, PredictionMeta, Timing
from compass.store import RunDir
from compass.tasks.worker import EXIT_LIMIT

log = logging.getLogger(__name__)
MAX_COST_ENV = "COMPASS_MAX_COST"  # the run's cost limit in dollars, set by the pipeline for its workers


class CostLimitReached(CompassError):
    exit_code = EXIT_LIMIT


def counters(model: object) -> Counter:
    """The backend's running counts: retried requests by cause, and tokens (``usage``), where it keeps them."""
    return Counter({**{f"retry:{k}": v for k, v in getattr(model, "retries", {}).items()},
                    **getattr(model, "usage", {})})


def cost_of(model: ModelConfig, prompt_tokens: int, completion_tokens: int) -> float:
    price = model.price_per_mtok or {}
    return (prompt_tokens * price.get("prompt", 0.0) + completion_tokens * price.get("completion", 0.0)) / 1e6


def add_tokens(t: Timing, delta: Counter, model: ModelConfig) -> Timing:
    """``t`` with ``delta``'s token counts added and its cost from the new totals (never a rounded
    running sum: rounding per batch lost every batch under $5e-7)."""
    prompt, completion = t.prompt_tokens + delta["prompt_tokens"], t.completion_tokens + delta["completion_tokens"]
    return replace(t, prompt_tokens=prompt, completion_tokens=completion,
                   reasoning_tokens=t.reasoning_tokens + delta["reasoning_tokens"],
                   cost_usd=cost_of(model, prompt, completion))


def reprice(path: Path, model: ModelConfig, infer_hash: str) -> None:
    """A predictions meta file's cost at the model's current price, from its recorded token counts.
    The price is no part of ``infer_hash``, so it may be corrected before ``-r``: what was spent is
    then restated at the new price (tokens untouched), and ``--max-cost`` and every later batch
    (``add_tokens``) count by that same rule."""
    meta = records.try_read_record(path, PredictionMeta)
    if meta is not None and meta.infer_hash == infer_hash:  # else not these predictions: the resume decides
        if (now := _restated(path, meta.timing, model)) is not None:
            records.write_record(path, replace(meta, timing=now))


def reprice_judge(path: Path, judge: ModelConfig) -> None:
    """A judge's spending on one dataset at its current price: the price is no part of the
    judgments' cache keys, so it may be corrected before ``-r``, which then re-buys nothing."""
    old = records.try_read_record(path, JudgeUsage)
    if old is not None and (now := _restated(path, old.timing, judge)) is not None:
        records.write_record(path, replace(old, timing=now))


def _restated(path: Path, t: Timing, model: ModelConfig) -> Timing | None:
    """``t`` with its cost at the model's price now; None when that is what it already says."""
    now = add_tokens(t, Counter(), model)
    if now == t:
        return None
    log.info("%s: cost restated at the current price: $%.4f (was $%.4f)", path, now.cost_usd, t.cost_usd)
    return now


def run_cost(run_dir: RunDir) -> float:
    """Dollars the run has spent so far, over every dataset (and shard) of every model, and its judges."""
    metas = (records.try_read_record(p, PredictionMeta) for p in (run_dir.root / "predictions").glob("*/*.meta.json"))
    judged = (records.try_read_record(p, JudgeUsage) for p in (run_dir.root / "judgments").glob("*/*.usage.json"))
    return sum(m.timing.cost_usd for m in metas if m is not None) + sum(j.timing.cost_usd for j in judged if j is not None)


def check_limit(run_dir: RunDir, limit: float | None) -> None:
    if limit is not None and (spent := run_cost(run_dir)) >= limit:
        raise CostLimitReached(f"stopped at the cost limit: ${spent:.4f} spent of ${limit:.4f} "
                               f"(--max-cost); resume with -r and a higher --max-cost to go on")


def max_cost() -> float | None:
    value = os.environ.get(MAX_COST_ENV)
    return float(value) if value else None


class Meter:
    """Adds what each batch spent to its dataset's meta file, and stops before a batch past the limit."""

    def __init__(self, run_dir: RunDir, model_cfg: ModelConfig, model: object, load_s: float):
        self.run_dir, self.model_cfg, self.model, self.load_s = run_dir, model_cfg, model, load_s
        self.limit = max_cost()
        self._last, self._since = counters(model), time.monotonic()
        self._loaded: set[str] = set()

    def check(self) -> None:
        check_limit(self.run_dir, self.limit)

    def start(self) -> None:
        self._last, self._since = counters(self.model), time.monotonic()

    def record(self, dataset: str, part: str | None) -> None:
        """Add what was spent since the last call to the dataset's meta file."""
        now, seconds = counters(self.model), time.monotonic() - self._since
        delta = now - self._last
        self._last, self._since = now, time.monotonic()
        path = self.run_dir.prediction_meta(self.model_cfg.abbr, dataset, part)
        meta = records.read_record(path, PredictionMeta)
        retries = Counter(meta.retries) + Counter({k[6:]: v for k, v in delta.items() if k.startswith("retry:")})
        t = add_tokens(meta.timing, delta, self.model_cfg)
        infer_s = round(t.infer_s + seconds, 3)
        load = self.load_s if (dataset, part) not in self._loaded else 0.0  # once per dataset and attempt
        self._loaded.add((dataset, part))  # type: ignore[arg-type]
        tokens = t.prompt_tokens + t.completion_tokens
        timing = replace(t, model_load_s=round(t.model_load_s + load, 3), infer_s=infer_s,
                         tokens_per_s=round(tokens / infer_s, 1) if infer_s > 0 else 0.0)
        records.write_record(path, replace(meta, retries=dict(sorted(retries.items())), timing=timing))
        if any(k.startswith("retry:") for k in delta):
            log.info("%s: retried requests by cause: %s", dataset, {k[6:]: v for k, v in delta.items()
                                                                   if k.startswith("retry:")})


class JudgeMeter:
    """A judge model's spending on one dataset's judgments (``RunDir.judge_usage``): part of the
    run's cost, so ``--max-cost`` stops judging as it stops inference."""

    def __init__(self, run_dir: RunDir, path: Path, judge_cfg: ModelConfig, judge: object):
        self.run_dir, self.path, self.judge_cfg, self.judge = run_dir, path, judge_cfg, judge
        self.limit = max_cost()
        self._last = counters(judge)

    def check(self) -> None:
        check_limit(self.run_dir, self.limit)

    def record(self) -> None:
        now = counters(self.judge)
        delta, self._last = now - self._last, now
        old = records.try_read_record(self.path, JudgeUsage)
        timing = add_tokens(old.timing if old is not None else Timing(), delta, self.judge_cfg)
        records.write_record(self.path, JudgeUsage(self.judge_cfg.abbr, timing))
