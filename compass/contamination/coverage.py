"""Token coverage by long matching spans, the Llama 2 report's contamination measure (Touvron et al.
2023, appendix A.6), and the labels drawn from it.

A token of a sample is covered when it lies in an n-gram (n >= 8 tokens) that also occurs in the
corpus. Matched spans may skip a few mismatched tokens: a gap of uncovered tokens between two
covered stretches is bridged while the stretch's skipped tokens stay within ``skip_budget`` (4,
as in the report); gaps at the start or end are never bridged. Coverage is the covered share of
the sample's *informative* tokens: those that are not template tokens of the benchmark (tokens in
at least ``template_share`` of its samples, e.g. "which of these numbers is the largest" in a
templated set), so that two different items of one template are not mistaken for copies.
Labels: clean below 0.2, contaminated from 0.8, partial between (the report's thresholds), with
one more condition for contaminated: every number of the sample is matched (inside a matched
n-gram, not merely bridged). Items that differ only in their numbers are different items: that is
how templated benchmarks make items and how perturbed "clean" variants (GSM-Symbolic) are made.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

LABELS = ("clean", "partial", "contaminated")


@dataclass(frozen=True)
class Thresholds:
    clean_below: float = 0.2  # coverage (or span share) under this: clean
    contaminated_at: float = 0.8  # from this: contaminated
    near_duplicate_at: float = 0.8  # MinHash/Jaccard similarity from this: contaminated
    near_partial_at: float = 0.5  # from this: partial
    skip_budget: int = 4  # mismatched tokens a matched span may skip
    template_share: float = 0.1  # a token in at least this share of a benchmark's samples is template
    template_min_samples: int = 3  # ... and in at least this many of them


def covered(matched: np.ndarray, n: int, length: int, skip_budget: int) -> np.ndarray:
    """Per token: inside a matched n-gram (``matched[i]``: the n-gram starting at i is in the corpus),
    or inside a gap between matched stretches bridged within the skip budget."""
    mask = np.zeros(length, dtype=bool)
    for start in np.flatnonzero(matched):
        mask[start:start + n] = True
    if skip_budget <= 0 or not mask.any():
        return mask
    idx = np.flatnonzero(mask)
    skipped = 0
    for a, b in zip(idx[:-1], idx[1:]):
        gap = int(b - a - 1)
        if gap == 0:
            continue
        if skipped + gap <= skip_budget:
            mask[a + 1:b] = True
            skipped += gap
        else:
            skipped = 0  # a new stretch starts after a gap too long to bridge
    return mask


def longest_run(matched: np.ndarray, n: int) -> int:
    """Tokens in the longest stretch of consecutive matched n-grams (an upper bound on the longest
    exact span in one document: neighbouring n-grams may come from different documents)."""
    best = run = 0
    for hit in matched:
        run = run + 1 if hit else 0
        best = max(best, run)
    return best + n - 1 if best else 0


def share(mask: np.ndarray, informative: np.ndarray) -> float:
    """The share of informative tokens under ``mask`` (of all tokens when none is informative)."""
    weights = informative if informative.any() else np.ones_like(informative)
    return float(mask[weights].sum() / weights.sum()) if len(weights) else 0.0


def label(value: float, clean_below: float, contaminated_at: float, numbers_match: bool = True) -> str:
    if value >= contaminated_at and numbers_match:
        return "contaminated"
    return "partial" if value >= clean_below else "clean"


def numbers(toks: list[str]) -> np.ndarray:
    """Per token: is it a number (digits, after normalisation)."""
    return np.array([t.isdigit() for t in toks], dtype=bool)


def worst(labels: list[str]) -> str:
    return max(labels, key=LABELS.index) if labels else "clean"


def template_tokens(token_sets: list[set[str]], th: Thresholds) -> set[str]:
    """Tokens present in at least ``template_share`` (and ``template_min_samples``) of the samples."""
    counts = Counter(tok for s in token_sets for tok in s)
    least = max(th.template_min_samples, th.template_share * len(token_sets))
    return {tok for tok, c in counts.items() if c >= least}
