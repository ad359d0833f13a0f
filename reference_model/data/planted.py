"""Planted near-duplicate corpora at controlled Jaccard similarity, to measure dedup against its claim.

A variant of a base document replaces ``k`` words at positions at least ``n`` words apart, so each
replacement removes exactly ``n`` of the base's word n-gram shingles and adds ``n`` new ones:
J = (S - n k) / (S + n k) for S shingles, which fixes ``k`` for a target J. The Jaccard stored per
variant is measured on the actual shingle sets (the same shingles the dedup stage uses), never
assumed. Case and whitespace noise on some variants does not change shingles but must not hide them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from .minhash import shingle_keys
from .records import Doc

LEVELS = (0.9, 0.8, 0.7, 0.5)
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass
class PlantedCorpus:
    docs: list[Doc]
    base_of: dict[str, str] = field(default_factory=dict)    # variant id -> base id
    jaccard: dict[str, float] = field(default_factory=dict)  # variant id -> measured Jaccard to its base
    distinct: set[str] = field(default_factory=set)          # ids of documents nothing duplicates


def jaccard(a: str, b: str, n: int = 5) -> float:
    x, y = set(shingle_keys(a, n).tolist()), set(shingle_keys(b, n).tolist())
    return len(x & y) / max(len(x | y), 1)


def vocabulary(rng: random.Random, size: int) -> list[str]:
    return sorted({"".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 9))) for _ in range(size)})


def _replace(rng: random.Random, words: list[str], k: int, n: int, vocab: list[str]) -> list[str]:
    slots = list(range(rng.randrange(n), len(words), n))  # n apart: no shingle holds two replacements
    out = words[:]
    for i in rng.sample(slots, min(k, len(slots))):
        new = rng.choice(vocab)
        while new == out[i]:
            new = rng.choice(vocab)
        out[i] = new
    return out


def variant(rng: random.Random, words: list[str], target: float, vocab: list[str], n: int = 5) -> list[str]:
    """``words`` with as many replacements as bring the shingle Jaccard closest to ``target``
    (the formula's k and its neighbours, measured: edges and repeated words shift it a little)."""
    shingles = max(len(words) - n + 1, 1)
    k = max(round(shingles * (1 - target) / (n * (1 + target))), 1)
    base = " ".join(words)
    tries = [_replace(rng, words, kk, n, vocab) for kk in (k - 1, k, k + 1) if kk >= 1]
    return min(tries, key=lambda w: abs(jaccard(" ".join(w), base, n) - target))


def _noise(rng: random.Random, text: str) -> str:
    roll = rng.random()
    if roll < 0.2:
        return text.upper()
    if roll < 0.4:
        return text.replace(" ", "  ", rng.randint(1, 20)).replace(" ", "\n", 3)
    return text


def planted_corpus(n_base: int = 200, n_with_variants: int = 100, levels: tuple[float, ...] = LEVELS,
                   words: tuple[int, int] = (300, 600), n_templated: int = 40, seed: int = 0,
                   n: int = 5) -> PlantedCorpus:
    """``n_base`` distinct documents; the first ``n_with_variants`` each get one variant per level;
    ``n_templated`` distinct documents share a 40-word header and footer (low but nonzero Jaccard).
    Bases come first, so keeping the earliest document of a cluster keeps the bases."""
    rng = random.Random(seed)
    vocab = vocabulary(rng, 5000)
    bases = [[rng.choice(vocab) for _ in range(rng.randint(*words))] for _ in range(n_base)]
    out = PlantedCorpus([Doc(f"base{i}", " ".join(w), "planted") for i, w in enumerate(bases)])
    out.distinct.update(d.id for d in out.docs)
    header, footer = [rng.choice(vocab) for _ in range(20)], [rng.choice(vocab) for _ in range(20)]
    for i in range(n_templated):
        body = [rng.choice(vocab) for _ in range(rng.randint(*words))]
        out.docs.append(Doc(f"templated{i}", " ".join(header + body + footer), "planted"))
        out.distinct.add(f"templated{i}")
    for level in levels:
        for i in range(min(n_with_variants, n_base)):
            doc_id = f"j{level:.2f}/{i}"
            text = _noise(rng, " ".join(variant(rng, bases[i], level, vocab, n)))
            out.docs.append(Doc(doc_id, text, "planted"))
            out.base_of[doc_id] = f"base{i}"
            out.jaccard[doc_id] = jaccard(text, out.docs[i].text, n)
    return out


@dataclass
class DedupScore:
    """What a dedup run removed, against the planted truth."""
    removed_by_level: dict[float, tuple[int, int]]  # level -> (removed, total)
    distinct_removed: list[str]
    min_jaccard: dict[float, float]
    max_jaccard: dict[float, float]

    def recall(self, level: float) -> float:
        removed, total = self.removed_by_level[level]
        return removed / max(total, 1)

    def recall_at_least(self, j: float, corpus: PlantedCorpus, removed: set[str]) -> float:
        ids = [v for v, s in corpus.jaccard.items() if s >= j]
        return sum(v in removed for v in ids) / max(len(ids), 1)


def score(corpus: PlantedCorpus, removed: set[str], levels: tuple[float, ...] = LEVELS) -> DedupScore:
    by_level: dict[float, list[str]] = {lv: [] for lv in levels}
    for doc_id in corpus.jaccard:
        by_level[float(doc_id[1:doc_id.index("/")])].append(doc_id)
    return DedupScore(
        removed_by_level={lv: (sum(v in removed for v in ids), len(ids)) for lv, ids in by_level.items()},
        distinct_removed=sorted(removed & corpus.distinct),
        min_jaccard={lv: min(corpus.jaccard[v] for v in ids) for lv, ids in by_level.items() if ids},
        max_jaccard={lv: max(corpus.jaccard[v] for v in ids) for lv, ids in by_level.items() if ids})
