"""Deduplication: exact (hash of normalised text), then near-duplicate (MinHash LSH).

Two interchangeable near-dup backends: ``numpy`` (``minhash.py``, batch-vectorised) and
``datasketch`` (streaming MinHashLSH). ``bench/dedup_minhash.py`` compares them.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from compass.errors import CompassError

from .minhash import MinHasher, lsh_params, near_duplicate_of, shingle_bytes, shingle_keys
from .records import Doc, StageReport, StageResult


@dataclass
class DedupConfig:
    exact: bool = True
    near: bool = True
    backend: Literal["numpy", "datasketch"] = "numpy"
    threshold: float = 0.7     # estimated Jaccard (share of equal MinHash slots) at/above which docs are near-dups
    recall_at: float = 0.8     # true Jaccard at which ...
    target_recall: float = 0.99  # ... a pair must be found with at least this probability (sets bands/rows)
    num_perm: int = 128
    ngram: int = 5             # word n-gram shingles
    min_words: int = 10        # shorter docs are only exact-deduplicated (too few shingles to judge)
    seed: int = 1

    def validate(self, where: str = "dedup") -> None:
        for key in ("threshold", "recall_at", "target_recall"):
            if not 0 < getattr(self, key) <= 1:
                raise CompassError(f"{where}.{key}: must be in (0, 1], got {getattr(self, key)}")
        for key in ("num_perm", "ngram", "min_words"):
            if getattr(self, key) < 1:
                raise CompassError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")
        try:
            self.bands_rows()
        except ValueError as e:
            raise CompassError(f"{where}.target_recall: {e}") from None

    def bands_rows(self) -> tuple[int, int]:
        return lsh_params(self.threshold, self.num_perm, self.recall_at, self.target_recall)


def exact_key(text: str) -> str:
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


def _near_numpy(docs: list[Doc], cfg: DedupConfig, eligible: np.ndarray) -> np.ndarray:
    cache: dict[str, int] = {}
    keys = [shingle_keys(d.text, cfg.ngram, cache) if ok else np.zeros(0, np.uint64) for d, ok in zip(docs, eligible)]
    sig = MinHasher(cfg.num_perm, cfg.seed).signatures(keys)
    b, r = cfg.bands_rows()
    return near_duplicate_of(sig, cfg.threshold, b, r, valid=eligible)


def _near_datasketch(docs: list[Doc], cfg: DedupConfig, eligible: np.ndarray) -> np.ndarray:
    """datasketch's batch hashing (``MinHash.bulk``) and LSH with our bands/rows and verification."""
    from datasketch import MinHash, MinHashLSH

    idx = np.flatnonzero(eligible)
    cache: dict[str, int] = {}
    sketches = MinHash.bulk((shingle_bytes(docs[i].text, cfg.ngram, cache) for i in idx),
                            num_perm=cfg.num_perm, seed=cfg.seed)
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm, params=cfg.bands_rows())
    by_doc = dict(zip(idx.tolist(), sketches))
    dup_of = np.arange(len(docs))
    for i, m in by_doc.items():
        hits = sorted(j for j in lsh.query(m) if m.jaccard(by_doc[j]) >= cfg.threshold)
        if hits:
            dup_of[i] = dup_of[hits[0]]
        lsh.insert(i, m)
    return dup_of


def dedup(docs: list[Doc], cfg: DedupConfig) -> StageResult:
    t0 = time.perf_counter()
    report = StageReport("dedup", n_in=len(docs))
    rejected: list[tuple[Doc, str]] = []
    if cfg.exact:
        seen: dict[str, str] = {}
        kept = []
        for d in docs:
            k = exact_key(d.text)
            if k in seen:
                report.drop("exact_duplicate")
                rejected.append((d, f"exact_duplicate_of:{seen[k]}"))
            else:
                seen[k] = d.id
                kept.append(d)
        docs = kept
    if cfg.near and docs:
        eligible = np.array([len(d.text.split()) >= cfg.min_words for d in docs])
        report.counters["near_dedup_eligible"] = int(eligible.sum())
        near = {"numpy": _near_numpy, "datasketch": _near_datasketch}[cfg.backend]
        dup_of = near(docs, cfg, eligible)
        kept = []
        for i, d in enumerate(docs):
            if dup_of[i] != i:
                report.drop("near_duplicate")
                rejected.append((d, f"near_duplicate_of:{docs[dup_of[i]].id}"))
            else:
                kept.append(d)
        docs = kept
    report.n_out, report.seconds = len(docs), time.perf_counter() - t0
    return StageResult(docs, report, rejected)
