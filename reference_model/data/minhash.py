"""Vectorised MinHash + LSH banding in numpy (our backend; ``datasketch`` is the other).

Shingles are word n-grams hashed to 32 bits; permutation i is the multiply-add-shift hash
h_i(x) = ((a_i * x + b_i) mod 2**64) >> 32 with random 64-bit a_i (odd), b_i, which is
2-universal for 32-bit keys and needs only wrapping uint64 arithmetic, so numpy computes all
permutations of a whole batch of documents in one broadcasted product.
"""
from __future__ import annotations

import math
import re
import zlib

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _word_ids(words: list[str], cache: dict[str, int]) -> np.ndarray:
    # crc32 per distinct word only: word frequencies are Zipfian, so the cache absorbs most calls.
    vals = list(map(cache.get, words))
    for i, v in enumerate(vals):
        if v is None:
            vals[i] = cache[words[i]] = zlib.crc32(words[i].encode())
    return np.array(vals, dtype=np.uint64)


def shingle_keys(text: str, n: int, cache: dict[str, int] | None = None) -> np.ndarray:
    """Distinct 32-bit keys of the word n-grams of ``text`` (the whole text if shorter than n)."""
    words = _WORD.findall(text.lower())
    if not words:
        return np.zeros(0, dtype=np.uint64)
    ids = _word_ids(words, {} if cache is None else cache)
    m = max(len(ids) - n + 1, 1)
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(min(n, len(ids))):
            h = h * _MIX + ids[j:j + m]
        h ^= h >> np.uint64(32)
    return np.unique(h & np.uint64(0xFFFFFFFF))


def shingle_bytes(text: str, n: int, cache: dict[str, int] | None = None) -> list[bytes]:
    """The same shingles as byte strings, for datasketch's ``update_batch``."""
    return [int(k).to_bytes(4, "little") for k in shingle_keys(text, n, cache)]


class MinHasher:
    def __init__(self, num_perm: int = 128, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.a = (rng.integers(0, 2**63, num_perm, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
        self.b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)

    def signatures(self, keys: list[np.ndarray], chunk: int = 1 << 16) -> np.ndarray:
        """(n_docs, num_perm) uint32 signatures; a doc with no shingles gets all 0xFFFFFFFF."""
        sig = np.full((len(keys), self.num_perm), 0xFFFFFFFF, dtype=np.uint32)
        nonempty = [i for i, k in enumerate(keys) if len(k)]
        if not nonempty:
            return sig
        flat = np.concatenate([keys[i] for i in nonempty])
        starts = np.cumsum([0] + [len(keys[i]) for i in nonempty[:-1]])
        mins = np.empty((len(nonempty), self.num_perm), dtype=np.uint32)
        # Process documents in groups whose shingles fit in one chunk to bound memory.
        g0 = 0
        while g0 < len(nonempty):
            g1 = g0 + 1
            while g1 < len(nonempty) and starts[g1] - starts[g0] < chunk:
                g1 += 1
            lo = starts[g0]
            hi = starts[g1] if g1 < len(nonempty) else len(flat)
            hv = np.multiply(self.a[:, None], flat[None, lo:hi])  # wraps mod 2**64 by design
            hv += self.b[:, None]
            hv >>= np.uint64(32)
            mins[g0:g1] = np.minimum.reduceat(hv, starts[g0:g1] - lo, axis=1).T
            g0 = g1
        sig[nonempty] = mins
        return sig


def band_collision(s: float, bands: int, rows: int) -> float:
    """Probability that a pair with Jaccard ``s`` shares at least one LSH band bucket."""
    return 1.0 - (1.0 - s ** rows) ** bands


def verify_probability(s: float, threshold: float, num_perm: int) -> float:
    """Probability that the share of equal signature slots of a pair with Jaccard ``s`` reaches
    ``threshold``: P(Binomial(num_perm, s) >= ceil(threshold * num_perm))."""
    k = math.ceil(threshold * num_perm - 1e-9)
    return sum(math.comb(num_perm, i) * s ** i * (1 - s) ** (num_perm - i) for i in range(k, num_perm + 1))


def pair_recall(s: float, bands: int, rows: int, threshold: float, num_perm: int) -> float:
    """Lower bound on the chance that a pair with Jaccard ``s`` is found: it must share a bucket
    and pass verification. Both events grow with the same slot matches, so (Harris inequality)
    the product of their probabilities is a lower bound on the joint one."""
    return band_collision(s, bands, rows) * verify_probability(s, threshold, num_perm)


def lsh_params(threshold: float, num_perm: int, recall_at: float, target_recall: float) -> tuple[int, int]:
    """Bands b and rows r: every permutation used (b = num_perm // r), r as large as the recall
    target at Jaccard ``recall_at`` allows. More rows mean fewer dissimilar pairs share a bucket,
    so less verification work. Raises ValueError when no banding reaches the target."""
    best = 0.0
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        got = pair_recall(recall_at, bands, rows, threshold, num_perm)
        if got >= target_recall:
            return bands, rows
        best = max(best, got)
    raise ValueError(f"no banding of {num_perm} permutations finds pairs of Jaccard {recall_at} with probability "
                     f"{target_recall} at threshold {threshold} (at most {best:.4f}): raise num_perm or lower threshold")


def _band_keys(sig: np.ndarray, band: int, r: int) -> np.ndarray:
    rows = sig[:, band * r:(band + 1) * r].astype(np.uint64)
    mult = np.uint64(0x100000001B3)
    h = np.full(len(sig), np.uint64(0xCBF29CE484222325))
    with np.errstate(over="ignore"):
        for j in range(r):
            h = (h ^ rows[:, j]) * mult
    return h


def near_duplicate_of(sig: np.ndarray, threshold: float, bands: int, rows: int,
                      valid: np.ndarray | None = None, max_bucket_pairs: int = 64) -> np.ndarray:
    """For each doc, the index of the earliest doc in its near-duplicate cluster (itself if none).

    Candidates share a band bucket; a pair counts only if its estimated Jaccard (share of equal
    signature slots) is >= threshold. Clusters are closed transitively with union-find.
    """
    n = len(sig)
    parent = np.arange(n)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    valid = np.ones(n, bool) if valid is None else valid
    idx_valid = np.flatnonzero(valid)
    for band in range(bands):
        keys = _band_keys(sig[idx_valid], band, rows)
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        sizes = np.diff(np.r_[starts, len(sk)])
        for s0, size in zip(starts[sizes > 1], sizes[sizes > 1]):  # only shared buckets cost Python time
            members = idx_valid[order[s0:s0 + size]]
            for pos in range(1, len(members)):
                # Compare with earlier members (all of them for small buckets, the first few otherwise).
                for prev in members[:min(pos, max_bucket_pairs)]:
                    if np.mean(sig[members[pos]] == sig[prev]) >= threshold:
                        ra, rb = find(members[pos]), find(prev)
                        if ra != rb:
                            parent[max(ra, rb)] = min(ra, rb)
                        break
    return np.array([find(i) for i in range(n)])
