"""Few-shot retrievers: which examples from the few-shot pool precede each test sample.

Examples come from the sample's own group (e.g. its MMLU subject) when samples have groups.
A retriever is made once per dataset and asked for the test samples in order (``prompts_for``):
``lm_eval_default`` depends on that order, as lm-eval's sampler does.
"""
from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable

from compass.config import RetrieverCfg
from compass.datasets.base import Sample
from compass.errors import CompassError


class Retriever:
    """Chooses each test sample's few-shot examples from the pool, as ``cfg.type`` says (``RETRIEVERS``)."""

    def __init__(self, cfg: RetrieverCfg, pool: list[Sample], query_columns: list[str] | None, where: str,
                 same_split: bool = False):
        self.cfg, self.pool, self.where = cfg, pool, where
        self.columns = query_columns
        self.same_split = same_split  # the pool is the test split itself (reader_cfg train_split == test_split)
        self._indexes: dict[str | None, _BM25] = {}
        self._streams: dict[str | None, random.Random] = {}

    def candidates(self, sample: Sample) -> list[Sample]:
        return [s for s in self.pool if s.group == sample.group] if sample.group is not None else self.pool

    def select(self, sample: Sample) -> list[Sample]:
        return RETRIEVERS[self.cfg.type](self, sample)  # config validation made cfg.type a key

    def text(self, sample: Sample) -> str:
        columns = self.columns or (["question"] if "question" in sample.fields else list(sample.fields))
        return " ".join(sample.fields.get(c, "") for c in columns)

    def enough(self, sample: Sample) -> list[Sample]:
        candidates = self.candidates(sample)
        if self.cfg.k > len(candidates):
            raise CompassError(f"{self.where}: k={self.cfg.k} few-shot examples asked, the pool has {len(candidates)}")
        return candidates


def _zero(r: Retriever, sample: Sample) -> list[Sample]:
    return []


def _fixed(r: Retriever, sample: Sample) -> list[Sample]:
    """The same examples (``fix_id_list``, else the first k) for every sample of a group."""
    candidates = r.candidates(sample)
    ids = r.cfg.fix_id_list if r.cfg.fix_id_list is not None else list(range(r.cfg.k))
    if ids and max(ids) >= len(candidates):
        group = f" in group {sample.group!r}" if sample.group else ""
        raise CompassError(f"{r.where}: fix_id_list needs {max(ids) + 1} few-shot examples{group}, "
                           f"the pool has {len(candidates)}")
    return [candidates[i] for i in ids]


def _random(r: Retriever, sample: Sample) -> list[Sample]:
    if r.cfg.k == 0:
        return []
    # Seeded by sample id, so a sample's shots do not depend on which other samples are in the run.
    return random.Random(f"{r.cfg.seed}:{sample.id}").sample(r.enough(sample), r.cfg.k)


def _lexical_topk(r: Retriever, sample: Sample) -> list[Sample]:
    """The k pool examples most similar to the sample by BM25 over its query columns."""
    if r.cfg.k == 0:
        return []
    candidates = r.enough(sample)
    if sample.group not in r._indexes:
        r._indexes[sample.group] = _BM25([r.text(s) for s in candidates])
    return [candidates[i] for i in r._indexes[sample.group].top(r.text(sample), r.cfg.k)]


def _lm_eval_default(r: Retriever, sample: Sample) -> list[Sample]:
    """lm-evaluation-harness's default few-shot sampler (0.4.x ``ContextSampler``), replayed draw for draw.

    One ``random.Random(seed)`` stream per group (lm-eval: one per task, seeded 1234 by default),
    drawn by the test samples in order, ``k`` examples each. When the pool is the test split itself,
    each draw takes ``k + 1`` and drops the sample's own copies (equal fields and gold: lm-eval compares
    whole documents); if that leaves fewer than ``k``, it draws ``k`` again from the pool without them."""
    k = r.cfg.k
    if k == 0:
        return []
    pool = r.candidates(sample)
    rng = r._streams.setdefault(sample.group, random.Random(r.cfg.seed))
    if not r.same_split:
        return rng.sample(r.enough(sample), k)
    if k + 1 > len(pool):
        raise CompassError(f"{r.where}: k={k} few-shot examples from the test split itself need {k + 1} samples "
                           f"(one may be the sample), the pool has {len(pool)}")
    shots = [s for s in rng.sample(pool, k + 1) if not _same_document(s, sample)][:k]
    if len(shots) < k:  # the sample was drawn twice: it has duplicates in the pool
        others = [s for s in pool if not _same_document(s, sample)]
        if len(others) < k:
            raise CompassError(f"{r.where}: sample {sample.id!r}: only {len(others)} few-shot examples differ from "
                               f"it, k={k} asked")
        shots = rng.sample(others, k)
    return shots


def _same_document(a: Sample, b: Sample) -> bool:
    return a.fields == b.fields and a.gold == b.gold


RETRIEVERS: dict[str, Callable[[Retriever, Sample], list[Sample]]] = {
    "zero": _zero, "fixed": _fixed, "random": _random, "lexical_topk": _lexical_topk,
    "lm_eval_default": _lm_eval_default}
RETRIEVER_ALIASES = {"ZeroRetriever": "zero", "FixKRetriever": "fixed", "RandomRetriever": "random",
                     "BM25Retriever": "lexical_topk", "TopkRetriever": "lexical_topk",
                     "ContextSampler": "lm_eval_default"}


_WORD = re.compile(r"\w+")


class _BM25:
    """Okapi BM25 (k1=1.5, b=0.75) over a small pool; ties go to the earlier example."""

    def __init__(self, docs: list[str], k1: float = 1.5, b: float = 0.75):
        self.docs = [Counter(_WORD.findall(d.lower())) for d in docs]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = sum(self.lengths) / max(1, len(self.docs))
        df = Counter(term for d in self.docs for term in d)
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.k1, self.b = k1, b

    def top(self, query: str, k: int) -> list[int]:
        terms = _WORD.findall(query.lower())
        scores = []
        for i, (doc, length) in enumerate(zip(self.docs, self.lengths)):
            score = 0.0
            for t in terms:
                tf = doc.get(t, 0)
                if tf:
                    score += self.idf[t] * tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * length / self.avg))
            scores.append((-score, i))
        return [i for _, i in sorted(scores)[:k]]
