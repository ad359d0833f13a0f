"""Paired two-run statistics behind `compass gate` (pure numpy/scipy, no I/O).

Conventions used throughout (all values are fractions in [0, 1], never points):

* ``d_i = candidate_i - baseline_i`` per sample, ``delta = mean(d)``, ``drop = -delta``.
* ``margin`` is the tolerated drop m (``--max-drop`` / 100).
* Binary outcomes reduce to the discordant counts ``b`` (baseline right, candidate wrong)
  and ``c`` (baseline wrong, candidate right): ``delta = (c - b) / n``.
* The regression test is one-sided, H0: delta >= -m  vs  H1: delta < -m.
  The non-inferiority test is its mirror, H0: delta <= -m  vs  H1: delta > -m.

See docs/gate.md for why each choice was made.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy import stats

# Berger & Boos (1994) confidence level for the nuisance discordance rate when m > 0.
# The p-value pays gamma for maximising over a (1 - gamma) interval instead of [0, 1].
BERGER_BOOS_GAMMA = 1e-4
# Sign-flip tests: enumerate all 2^G sign patterns up to this many units, Monte Carlo up to
# MC_MAX_UNITS, then the normal limit (the flip distribution is symmetric, so the normal
# approximation error is O(1/G), negligible beyond a few thousand units).
EXACT_MAX_UNITS = 16
MC_MAX_UNITS = 2000
# Cap the size of one bootstrap index block (elements) to bound memory.
_BLOCK_ELEMENTS = 4_000_000

Alternative = Literal["less", "greater"]


# ---------------------------------------------------------------------------------------------
# Multiple testing
# ---------------------------------------------------------------------------------------------
def holm(pvalues: np.ndarray | list[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values along the last axis (vectorised for simulations).

    adj_(i) = max_{j <= i} min(1, (k - j + 1) * p_(j)) over the ascending order; rejecting
    adj <= alpha controls the family-wise error rate at alpha under any dependence.
    """
    p = np.asarray(pvalues, dtype=float)
    k = p.shape[-1]
    if k == 0:
        return p.copy()
    order = np.argsort(p, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=-1)
    stepped = np.maximum.accumulate(sorted_p * (k - np.arange(k)), axis=-1)
    out = np.empty_like(p)
    np.put_along_axis(out, order, np.minimum(stepped, 1.0), axis=-1)
    return out


# ---------------------------------------------------------------------------------------------
# Binary outcomes: exact McNemar with a tolerance
# ---------------------------------------------------------------------------------------------
def _theta_at_margin(psi: np.ndarray, margin: float) -> np.ndarray:
    """P(discordant pair is a loss) when drop == margin and discordance rate == psi.

    drop = p10 - p01 and psi = p10 + p01, so p10 / psi = (psi + m) / (2 psi); capped at 1
    because psi <= m means every discordant pair is a loss at the boundary.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = (psi + margin) / (2.0 * psi)
    return np.where(psi > margin, theta, 1.0)


def mcnemar_regression_p(
    b: np.ndarray | int,
    c: np.ndarray | int,
    n: np.ndarray | int,
    margin: float,
    gamma: float = BERGER_BOOS_GAMMA,
) -> np.ndarray:
    """One-sided exact p-value for H0: drop <= margin vs H1: drop > margin (a regression).

    Conditional on D = b + c discordant pairs, b ~ Binomial(D, theta) with theta = p10 / psi.
    * margin == 0: theta = 1/2 on the boundary whatever psi is, so this is the classic exact
      McNemar test, p = P(Binomial(D, 1/2) >= b), with no gamma.
    * margin > 0: the boundary theta = (psi + m) / (2 psi) depends on the unknown
      discordance psi. We take the sup over psi in a one-sided (1 - gamma) Clopper-Pearson
      interval (the sup sits at its lower end, where theta is largest) and add gamma
      (Berger & Boos 1994), which keeps the test exactly level-alpha for every psi.
    Vectorised over b, c, n (broadcasting) so simulations can call it directly.
    """
    b = np.asarray(b, dtype=float)
    d_total = b + np.asarray(c, dtype=float)
    n = np.asarray(n, dtype=float)
    if margin <= 0.0:
        theta: np.ndarray | float = 0.5
        gamma = 0.0
    else:
        with np.errstate(invalid="ignore"):
            psi_lo = np.where(d_total > 0, stats.beta.ppf(gamma, d_total, n - d_total + 1), 0.0)
        theta = _theta_at_margin(np.nan_to_num(psi_lo), margin)
    p = stats.binom.sf(b - 1, d_total, theta) + gamma
    return np.minimum(p, 1.0)


def mcnemar_noninferiority_p(
    b: np.ndarray | int,
    c: np.ndarray | int,
    n: np.ndarray | int,
    margin: float,
    gamma: float = BERGER_BOOS_GAMMA,
) -> np.ndarray:
    """Mirror test, H0: drop >= margin vs H1: drop < margin (candidate within tolerance).

    Small b is evidence for H1; the sup over the nuisance sits at the upper end of the
    discordance interval (smallest theta). If even that upper end is <= m, no distribution
    in H0 fits the data and the p-value is gamma.
    """
    b = np.asarray(b, dtype=float)
    d_total = b + np.asarray(c, dtype=float)
    n = np.asarray(n, dtype=float)
    if margin <= 0.0:
        return np.minimum(stats.binom.cdf(b, d_total, 0.5), 1.0)
    with np.errstate(invalid="ignore"):
        psi_hi = np.where(d_total < n, stats.beta.ppf(1.0 - gamma, d_total + 1, n - d_total), 1.0)
    psi_hi = np.nan_to_num(psi_hi, nan=1.0)
    theta = _theta_at_margin(psi_hi, margin)
    p = np.where(psi_hi > margin, stats.binom.cdf(b, d_total, theta), 0.0) + gamma
    return np.minimum(p, 1.0)


def _mcnemar_critical(d_total: np.ndarray, alpha: float) -> np.ndarray:
    """Smallest x with P(Binomial(D, 1/2) > x) <= alpha: the exact test rejects iff b > x."""
    x = stats.binom.isf(alpha, d_total, 0.5)
    # isf on a discrete law can be off by one through floating point; fix both directions.
    x = np.where(stats.binom.sf(x - 1, d_total, 0.5) <= alpha, x - 1, x)
    x = np.where(stats.binom.sf(x, d_total, 0.5) > alpha, x + 1, x)
    return x


def mcnemar_power(n: int, psi: float, drop: float, alpha: float) -> float:
    """Unconditional power of the one-sided exact McNemar test (margin 0) at a true drop.

    D ~ Binomial(n, psi') with psi' = max(psi, drop) (a drop of d needs at least d
    discordance), and given D the losses are Binomial(D, (psi' + d) / (2 psi')).
    """
    if n <= 0:
        return 0.0
    psi_alt = min(1.0, max(psi, drop))
    if psi_alt <= 0.0:
        return 0.0
    theta = min(1.0, (psi_alt + drop) / (2.0 * psi_alt))
    lo, hi = stats.binom.ppf([1e-10, 1.0 - 1e-10], n, psi_alt)
    d_vals = np.arange(max(int(lo), 1), int(hi) + 1, dtype=float)
    if d_vals.size == 0:
        return 0.0
    weights = stats.binom.pmf(d_vals, n, psi_alt)
    crit = _mcnemar_critical(d_vals, alpha)
    return float(np.sum(weights * stats.binom.sf(crit, d_vals, theta)))


def mcnemar_mdd(n: int, discordant: int, alpha: float, power: float = 0.8) -> float:
    """Minimum detectable drop: smallest true drop the exact McNemar test (margin 0, level
    alpha) detects with the given power at this n and the observed discordance rate.

    Returns inf when even a drop of 100 points is not detectable (tiny n).
    """
    psi = discordant / n if n else 0.0
    if mcnemar_power(n, psi, 1.0, alpha) < power:
        return math.inf
    lo, hi = 0.0, 1.0  # power(lo) < target <= power(hi); power grows with the drop
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if mcnemar_power(n, psi, mid, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return hi


# ---------------------------------------------------------------------------------------------
# Continuous scores and clustered data: sign-flip permutation test
# ---------------------------------------------------------------------------------------------
def sign_flip_p(
    x: np.ndarray,
    alternative: Alternative,
    rng: np.random.Generator,
    n_perm: int = 10_000,
) -> float:
    """One-sided sign-flip test that the units x (sample or cluster sums of d + m) centre on 0.

    The statistic is T = sum(x); its null distribution
    flips the sign of each unit. It is exact when each x_g is symmetric about 0 (e.g. the
    'same model' null with m = 0) and asymptotically valid for any mean-zero x_g because the
    flip variance sum(x_g^2) estimates var(T) (conservatively when units differ in mean).
    """
    x = np.asarray(x, dtype=float)
    g = x.size
    t_obs = float(x.sum())
    sign = 1.0 if alternative == "less" else -1.0  # "greater" = "less" on -x
    tol = 1e-9 * max(1.0, float(np.abs(x).sum()))
    if not np.any(x):  # every flip gives T = 0 = T_obs
        return 1.0
    if g <= EXACT_MAX_UNITS:
        patterns = (np.arange(2**g)[:, None] >> np.arange(g)) & 1
        t_all = (patterns * 2 - 1) @ x
        return float(np.mean(sign * t_all <= sign * t_obs + tol))
    if g <= MC_MAX_UNITS:
        hits = 0
        block = max(1, _BLOCK_ELEMENTS // g)
        done = 0
        while done < n_perm:
            rows = min(block, n_perm - done)
            flips = rng.integers(0, 2, size=(rows, g), dtype=np.int8) * 2 - 1
            hits += int(np.sum(sign * (flips @ x) <= sign * t_obs + tol))
            done += rows
        return (1 + hits) / (n_perm + 1)
    z = sign * t_obs / math.sqrt(float(np.sum(x * x)))
    return float(stats.norm.cdf(z))


def sign_flip_min_p(n_units: int, n_perm: int = 10_000) -> float:
    """Smallest p-value sign_flip_p can return with this many units (0 in the normal regime)."""
    if n_units <= EXACT_MAX_UNITS:
        return 0.5**n_units
    if n_units <= MC_MAX_UNITS:
        return 1.0 / (n_perm + 1)
    return 0.0


def normal_mdd(unit_sums: np.ndarray, n: int, alpha: float, min_p: float, power: float = 0.8) -> float:
    """Minimum detectable drop for the sign-flip test: (z_{1-alpha} + z_power) * SE0, with
    SE0 = sqrt(sum S_g^2) / n the no-change standard error of delta from the unit sums of d.

    inf when the test cannot reach alpha at all (too few units for any sign pattern to count).
    """
    if n <= 0 or min_p > alpha:
        return math.inf
    se0 = math.sqrt(float(np.sum(np.square(unit_sums)))) / n
    return (stats.norm.ppf(1.0 - alpha) + stats.norm.ppf(power)) * se0


# ---------------------------------------------------------------------------------------------
# Paired bootstrap confidence intervals
# ---------------------------------------------------------------------------------------------
def bootstrap_binary(b: int, c: int, n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap deltas for iid binary pairs: resampling n pairs is a multinomial draw over
    (loss, win, tie), so this is exact and O(n_boot) whatever n is."""
    if n == 0:
        return np.zeros(n_boot)
    probs = np.array([b, c, n - b - c], dtype=float) / n
    draws = rng.multinomial(n, probs, size=n_boot)
    return (draws[:, 1] - draws[:, 0]) / n


def bootstrap_clusters(sums: np.ndarray, sizes: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap deltas resampling whole units (clusters, or single samples when sizes == 1).

    delta* = sum(S*) / sum(n*) (ratio estimator) so unequal cluster sizes are weighted as the
    point estimate weights them.
    """
    sums = np.asarray(sums, dtype=float)
    sizes = np.asarray(sizes, dtype=float)
    g = sums.size
    out = np.empty(n_boot)
    block = max(1, _BLOCK_ELEMENTS // max(g, 1))
    for start in range(0, n_boot, block):
        rows = min(block, n_boot - start)
        idx = rng.integers(0, g, size=(rows, g))
        out[start:start + rows] = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    return out


def percentile_ci(deltas: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(deltas, [tail, 1.0 - tail])
    return float(lo), float(hi)
