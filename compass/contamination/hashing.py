"""64-bit hashes of tokens and of token n-grams, identical in every process and on every machine.

A token's hash is the first 8 bytes of its BLAKE2b digest (cached per process: token frequencies
are Zipfian, so almost every lookup hits the cache). An n-gram's hash is a polynomial in its token
hashes modulo 2**64, finished with the SplitMix64 mixer so that its top bits are uniform (the index
partitions the hash space by them). With 64-bit hashes, a chance collision between a benchmark
n-gram and any of 10**9 corpus n-grams has probability about 10**9 / 2**64 = 5e-11.
"""
from __future__ import annotations

import hashlib

import numpy as np

_MULT = np.uint64(0x9E3779B97F4A7C15)
_CACHE_LIMIT = 2_000_000  # distinct tokens kept per process before the cache starts afresh


class TokenHasher:
    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def ids(self, toks: list[str]) -> np.ndarray:
        """The uint64 hash of each token."""
        cache = self._cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        values = list(map(cache.get, toks))
        for i, v in enumerate(values):
            if v is None:
                values[i] = cache[toks[i]] = int.from_bytes(hashlib.blake2b(toks[i].encode(), digest_size=8).digest(),
                                                            "little")
        return np.array(values, dtype=np.uint64)


def _mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, in place."""
    with np.errstate(over="ignore"):
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


def ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """The hash of every n-gram of ``ids`` (position i: tokens i .. i+n-1); empty if fewer than n."""
    m = len(ids) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = ids[:m].copy()
    with np.errstate(over="ignore"):
        for j in range(1, n):
            h *= _MULT
            h += ids[j:j + m]
    return _mix(h)
