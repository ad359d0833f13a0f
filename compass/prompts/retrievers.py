"""Few-shot retrievers: which examples from the few-shot pool precede each test sample.

Examples come from the sample's own group (e.g. its MMLU subject) when samples have groups.
"""
from __future__ import annotations

import math
import random
import re
from collections import Counter

from compass.config import RetrieverCfg
from compass.datasets.base import Sample
from compass.errors import CompassError


class Retriever:
    def __init__(self, cfg: RetrieverCfg, pool: list[Sample], query_columns: list[str] | None, where: str):
        self.cfg, self.pool, self.where = cfg, pool, where
        self.columns = query_columns
        self._indexes: dict[str | None, _BM25] = {}

    def _candidates(self, sample: Sample) -> list[Sample]:
        return [s for s in self.pool if s.group == sample.group] if sample.group is not None else self.pool

    def select(self, sample: Sample) -> list[Sample]:
        cfg = self.cfg
        if cfg.type == "zero" or cfg.k == 0:
            return []
        candidates = self._candidates(sample)
        if cfg.type == "fixed":
            ids = cfg.fix_id_list if cfg.fix_id_list is not None else list(range(cfg.k))
            if ids and max(ids) >= len(candidates):
                group = f" in group {sample.group!r}" if sample.group else ""
                raise CompassError(f"{self.where}: fix_id_list needs {max(ids) + 1} few-shot examples{group}, "
                                   f"the pool has {len(candidates)}")
            return [candidates[i] for i in ids]
        if cfg.k > len(candidates):
            raise CompassError(f"{self.where}: k={cfg.k} few-shot examples asked, the pool has {len(candidates)}")
        if cfg.type == "random":
            # Seeded by sample id, so a sample's shots do not depend on which other samples are in the run.
            return random.Random(f"{cfg.seed}:{sample.id}").sample(candidates, cfg.k)
        if sample.group not in self._indexes:
            self._indexes[sample.group] = _BM25([self._text(s) for s in candidates])
        order = self._indexes[sample.group].top(self._text(sample), cfg.k)
        return [candidates[i] for i in order]

    def _text(self, sample: Sample) -> str:
        columns = self.columns or (["question"] if "question" in sample.fields else list(sample.fields))
        return " ".join(sample.fields.get(c, "") for c in columns)


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
