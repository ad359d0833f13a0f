"""Two independent subsets of one run's samples (e.g. contaminated vs clean): the difference of their
mean outcomes, its 95% interval and a two-sided test. Pure functions over arrays."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from compass.stats.intervals import wilson


@dataclass(frozen=True)
class Difference:
    delta: float  # mean(b) - mean(a)
    ci95: tuple[float, float]
    ci_method: str
    p_value: float  # two-sided, H0: both subsets have the same mean outcome
    test: str


def newcombe(successes_a: int, n_a: int, successes_b: int, n_b: int) -> tuple[float, float]:
    """95% interval of p_b - p_a from the two Wilson intervals (Newcombe's hybrid score method, his
    method 10): keeps its coverage near 0 and 1 and at small n, where the Wald interval does not."""
    pa, pb = successes_a / n_a, successes_b / n_b
    la, ua = wilson(successes_a, n_a)
    lb, ub = wilson(successes_b, n_b)
    d = pb - pa
    lo = d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    hi = d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return (max(-1.0, lo), min(1.0, hi))


def permutation_p(a: np.ndarray, b: np.ndarray, n_perm: int, rng: np.random.Generator) -> float:
    """Two-sided permutation test of mean(b) - mean(a): the labels shuffled ``n_perm`` times; the
    observed split counts as one permutation, so p is never 0."""
    pooled = np.concatenate([a, b]).astype(float)
    observed = abs(b.mean() - a.mean())
    total, nb = pooled.sum(), b.size
    hits = 0
    for start in range(0, n_perm, 1000):
        k = min(1000, n_perm - start)
        perms = rng.permuted(np.tile(pooled, (k, 1)), axis=1)
        sum_b = perms[:, :nb].sum(axis=1)
        diffs = sum_b / nb - (total - sum_b) / a.size
        hits += int(np.sum(np.abs(diffs) >= observed - 1e-12))
    return (hits + 1) / (n_perm + 1)


def difference(a: np.ndarray, b: np.ndarray, *, binary: bool, n_boot: int = 2000, n_perm: int = 10_000,
               seed: int = 0) -> Difference:
    """mean(b) - mean(a) of two non-empty independent samples of outcomes in [0, 1]."""
    if a.size == 0 or b.size == 0:
        raise ValueError("difference: both subsets need samples")
    rng = np.random.default_rng(seed)
    delta = float(b.mean() - a.mean())
    if binary:
        ci, method = newcombe(int(a.sum()), int(a.size), int(b.sum()), int(b.size)), "Newcombe (Wilson score)"
    else:
        ma = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(axis=1)
        mb = b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(axis=1)
        lo, hi = np.percentile(mb - ma, [2.5, 97.5])
        ci, method = (float(lo), float(hi)), "percentile bootstrap"
    return Difference(delta, ci, method, permutation_p(a, b, n_perm, rng), "two-sided permutation")
