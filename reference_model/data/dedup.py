"""Deduplication: exact (hash of normalised text), then near-duplicate (MinHash LSH).

Two interchangeable near-dup backends: ``numpy`` (``minhash.py``, batch-vectorised) and
``datasketch`` (streaming MinHashLSH). ``bench/dedup_minhash.py`` compares them.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np

from .minhash import MinHasher, lsh_params, near_duplicate_of, shingle_bytes, shingle_keys
from .records import Doc, StageReport, StageResult


@dataclass
class DedupConfig:
    exact: bool = True
    near: bool = True
    backend: str = "numpy"     # numpy | datasketch
    threshold: float = 0.7     # estimated Jaccard at/above which two docs are near-duplicates
    num_perm: int = 128
    ngram: int = 5             # word n-gram shingles
    min_words: int = 10        # shorter docs are only exact-deduplicated (too few shingles to judge)
    fp_weight: float = 0.5     # LSH band/row choice trades false positives against false negatives
    fn_weight: float = 0.5
    seed: int = 1


def exact_key(text: str) -> str:
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


def _near_numpy(docs: list[Doc], cfg: DedupConfig, eligible: np.ndarray) -> np.ndarray:
    cache: dict[str, int] = {}
    keys = [shingle_keys(d.text, cfg.ngram, cache) if ok else np.zeros(0, np.uint64) for d, ok in zip(docs, eligible)]
    sig = MinHasher(cfg.num_perm, cfg.seed).signatures(keys)
    b, r = lsh_params(cfg.threshold, cfg.num_perm, cfg.fp_weight, cfg.fn_weight)
    return near_duplicate_of(sig, cfg.threshold, b, r, valid=eligible)


def _near_datasketch(docs: list[Doc], cfg: DedupConfig, eligible: np.ndarray) -> np.ndarray:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm, weights=(cfg.fp_weight, cfg.fn_weight))
    sketches: dict[int, MinHash] = {}
    dup_of = np.arange(len(docs))
    cache: dict[str, int] = {}
    for i, doc in enumerate(docs):
        if not eligible[i]:
            continue
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        m.update_batch(shingle_bytes(doc.text, cfg.ngram, cache))
        hits = sorted(j for j in lsh.query(m) if m.jaccard(sketches[j]) >= cfg.threshold)
        if hits:
            dup_of[i] = dup_of[hits[0]]
            continue
        lsh.insert(i, m)
        sketches[i] = m
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
