"""Confidence intervals for metrics: Wilson for proportions, percentile bootstrap for means (guarded
for means over questions of their repeats)."""
from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; well-behaved at 0, 1 and small n."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamped so rounding never puts the estimate outside its own interval (e.g. at p = 1).
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def bootstrap_mean(values, *, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean (seeded: the same data gives the same interval)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return (float(lo), float(hi))


def repeats_mean(values, repeats: int) -> tuple[float, float]:
    """95% interval of the mean of per-question values in [0, 1], each from ``repeats`` (or more)
    completions of its question: the percentile bootstrap over questions, which is right when
    questions are the independent units, with two guards. When every value is 0 or 1 (each
    question all right or all wrong: repeats that agree), they are a proportion over questions,
    and Wilson gives its interval; the bootstrap alone was zero-wide (10 questions right 4 times
    of 4 read as certain). Otherwise it is never narrower than Wilson over all completions as if
    independent: repeats of one question do not disagree more than chance would make them."""
    if len(values) and all(v in (0.0, 1.0) for v in values):
        return wilson(int(sum(values)), len(values))
    lo, hi = bootstrap_mean(values)
    if len(values) == 0:
        return (lo, hi)
    w_lo, w_hi = wilson(sum(values) * repeats, len(values) * repeats)
    return (min(lo, w_lo), max(hi, w_hi))


def detectable_difference(lo: float, hi: float, z_alpha: float = Z95, z_power: float = 0.8416212335729143) -> float:
    """The smallest difference between two independent runs of this size that a two-sided 5% test
    finds with 80% power, from one run's 95% interval (read as ±1.96 standard errors)."""
    se = (hi - lo) / (2 * Z95)
    return (z_alpha + z_power) * math.sqrt(2) * se


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased P(at least one of k completions passes), given c passes among n (Chen et al., 2021).

    1 - C(n-c, k) / C(n, k), written as 1 - prod_{i=n-c+1}^{n} (1 - k/i): no huge binomials, no
    cancellation.
    """
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))
