"""Near-duplicates: MinHash signatures of token sets and LSH band keys, for corpus passages and samples.

A passage is a paragraph of a document (paragraphs shorter than ``MIN_PASSAGE`` tokens join the
next one; longer than ``MAX_PASSAGE`` tokens are cut into windows of that size, half overlapping),
so a benchmark item copied as its own paragraph, which is how items are usually pasted, is one
passage. The set compared is the passage's set of tokens (word order ignored: shuffled options
and reordered clauses keep it).

MinHash (Broder 1997): permutation i maps a 64-bit token hash x to ((a_i x + b_i) mod 2**64) >> 32;
the share of equal minima of two sets estimates their Jaccard similarity. LSH: the 64 minima are
cut into 16 bands of 4; two sets share a band key with probability 1 - (1 - J**4)**16, which is
0.9998 at J = 0.8 and 0.89 at J = 0.6. Candidates are then verified exactly on the re-read text.
"""
from __future__ import annotations

import numpy as np

from compass.contamination.hashing import _mix

NUM_PERM, BANDS, ROWS = 64, 16, 4
MIN_PASSAGE, MAX_PASSAGE = 8, 128
_RNG = np.random.default_rng(20261127)
_A = _RNG.integers(1, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd multipliers
_B = _RNG.integers(0, 2**63, NUM_PERM, dtype=np.uint64)
_BAND_SALT = _RNG.integers(0, 2**63, BANDS, dtype=np.uint64)
_CHUNK = 1 << 15  # tokens hashed at once: 64 x 32k x 8 bytes = 16 MB


def passages(paragraph_lengths: list[int]) -> list[tuple[int, int]]:
    """(start, end) token spans of a document's passages, from its paragraphs' token counts."""
    merged: list[list[int]] = []
    start = 0
    pending = 0
    for length in paragraph_lengths:
        pending += length
        if pending >= MIN_PASSAGE:
            merged.append([start, start + pending])
            start += pending
            pending = 0
    if pending:  # a short last paragraph joins the previous passage
        if merged:
            merged[-1][1] += pending
        else:
            merged.append([start, start + pending])
    spans: list[tuple[int, int]] = []
    half = MAX_PASSAGE // 2
    for lo, hi in merged:
        if hi - lo <= MAX_PASSAGE:
            spans.append((lo, hi))
            continue
        cuts = list(range(lo, hi - MAX_PASSAGE, half)) + [hi - MAX_PASSAGE]
        spans += [(c, c + MAX_PASSAGE) for c in cuts]
    return spans


def signatures(ids: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """(len(spans), NUM_PERM) uint64 MinHash signatures of the token sets ``ids[start:end]``."""
    out = np.empty((len(spans), NUM_PERM), dtype=np.uint64)
    i = 0
    while i < len(spans):
        j, lo = i, spans[i][0]
        while j < len(spans) and (spans[j][1] - lo <= _CHUNK or j == i):
            j += 1
        hi = max(end for _, end in spans[i:j])
        with np.errstate(over="ignore"):
            hv = np.multiply(_A[:, None], ids[None, lo:hi])
            hv += _B[:, None]
        hv >>= np.uint64(32)
        for k in range(i, j):  # spans of one chunk may overlap (windows), so no reduceat
            start, end = spans[k]
            out[k] = hv[:, start - lo:end - lo].min(axis=1)
        i = j
    return out


def band_keys(sig: np.ndarray) -> np.ndarray:
    """(len(sig), BANDS) uint64 LSH keys; the band number is part of the key, so one table holds all."""
    keys = np.empty((len(sig), BANDS), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(BANDS):
            h = _BAND_SALT[band].repeat(len(sig))
            for r in range(ROWS):
                h = h * np.uint64(0x100000001B3) + sig[:, band * ROWS + r]
            keys[:, band] = _mix(h)
    return keys


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0
