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
from scipy import special, stats

# Berger & Boos (1994): with a tolerance m > 0 the McNemar p-value is maximised over a
# (1 - gamma) confidence interval for the nuisance discordance rate and pays gamma for it.
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
    """One-sided p-value for H0: drop <= margin vs H1: drop > margin (a regression).

    * margin == 0: the classic exact McNemar test. Given D = b + c discordant pairs,
      b ~ Binomial(D, 1/2) on the boundary whatever the discordance rate is, so
      p = P(Binomial(D, 1/2) >= b) with no nuisance parameter.
    * margin > 0: on the boundary b | D ~ Binomial(D, (psi + m) / (2 psi)), which depends on
      the unknown discordance psi, and plugging in psi = D / n is anti-conservative when psi
      is close to m (sizes of 0.09-0.14 at alpha 0.05 in our simulations). We use an exact
      *unconditional* test instead: order outcomes by Z = (b - c - n m) / sqrt(D - n m^2),
      compute P_psi(Z >= z_obs) exactly over the trinomial, and take its sup over psi in a
      (1 - gamma) Clopper-Pearson interval for psi, plus gamma (Berger & Boos 1994). The
      result is a valid p-value for every psi; Z is nearly pivotal, so little is lost.
    Vectorised over b, c, n (broadcasting); margin 0 is fully vectorised for simulations.
    """
    b_arr, c_arr, n_arr = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, n)))
    if margin <= 0.0:
        return np.minimum(stats.binom.sf(b_arr - 1, b_arr + c_arr, 0.5), 1.0)
    out = np.empty(b_arr.shape)
    for i in np.ndindex(b_arr.shape):
        out[i] = _unconditional_p(float(b_arr[i]), float(c_arr[i]), float(n_arr[i]), margin, gamma, upper=True)
    return out


def mcnemar_noninferiority_p(
    b: np.ndarray | int,
    c: np.ndarray | int,
    n: np.ndarray | int,
    margin: float,
    gamma: float = BERGER_BOOS_GAMMA,
) -> np.ndarray:
    """Mirror test, H0: drop >= margin vs H1: drop < margin (candidate within tolerance).

    Same construction with the lower tail of Z; H0 needs psi >= m, so if the whole
    discordance interval lies below m no H0 distribution fits the data and p = gamma.
    """
    b_arr, c_arr, n_arr = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, n)))
    if margin <= 0.0:
        return np.minimum(stats.binom.cdf(b_arr, b_arr + c_arr, 0.5), 1.0)
    out = np.empty(b_arr.shape)
    for i in np.ndindex(b_arr.shape):
        out[i] = _unconditional_p(float(b_arr[i]), float(c_arr[i]), float(n_arr[i]), margin, gamma, upper=False)
    return out


def _margin_z(b: np.ndarray | float, d_total: np.ndarray | float, n: float, margin: float) -> np.ndarray:
    """Score-type statistic for drop == m: Var(b - c) = n (psi - m^2) on the boundary."""
    c = np.asarray(d_total) - b
    return (b - c - n * margin) / np.sqrt(np.maximum(d_total - n * margin * margin, 0.5))


def _z_tail(z_obs: float, n: float, margin: float, psi: np.ndarray, upper: bool) -> np.ndarray:
    """Exact P_psi(Z >= z_obs) (upper) or P_psi(Z <= z_obs) on the boundary, for each psi.

    D ~ Binomial(n, psi) and b | D ~ Binomial(D, theta(psi)); for fixed D, Z increases in b,
    so each D contributes one binomial tail.
    """
    psi = np.clip(np.atleast_1d(psi), 1e-12, 1.0 - 1e-12)
    # D outside mean +- 8 sd (+5 for small counts) carries < 1e-12 of the mass.
    lo_psi, hi_psi = float(psi.min()), float(psi.max())
    d_lo = max(0.0, math.floor(n * lo_psi - 8 * math.sqrt(n * lo_psi * (1 - lo_psi)) - 5))
    d_hi = min(float(n), math.ceil(n * hi_psi + 8 * math.sqrt(n * hi_psi * (1 - hi_psi)) + 5))
    d = np.arange(d_lo, d_hi + 1.0)[None, :]
    p = psi[:, None]
    log_w = (special.gammaln(n + 1) - special.gammaln(d + 1) - special.gammaln(n - d + 1)
             + d * np.log(p) + (n - d) * np.log1p(-p))
    weight = np.exp(log_w)
    theta = np.broadcast_to(_theta_at_margin(psi, margin)[:, None], weight.shape)
    d = np.broadcast_to(d, weight.shape)
    threshold = (d + n * margin + z_obs * np.sqrt(np.maximum(d - n * margin * margin, 0.5))) / 2.0
    # Only cells with weight are worth a binomial tail (the costly part).
    if upper:  # P(b >= k), k = ceil(threshold)
        k = np.ceil(threshold - 1e-9)
        tail = (k <= 0).astype(float)
        live = (weight > 1e-17) & (k > 0) & (k <= d)
        tail[live] = special.bdtrc((k[live] - 1).astype(np.int64), d[live].astype(np.int64), theta[live])
    else:  # P(b <= k), k = floor(threshold)
        k = np.floor(threshold + 1e-9)
        tail = (k >= d).astype(float)
        live = (weight > 1e-17) & (k >= 0) & (k < d)
        tail[live] = special.bdtr(k[live].astype(np.int64), d[live].astype(np.int64), theta[live])
    return np.sum(weight * tail, axis=1)


def _unconditional_p(b: float, c: float, n: float, margin: float, gamma: float, upper: bool) -> float:
    d_total = b + c
    # Two-sided (1 - gamma) Clopper-Pearson interval for psi from D of n (beta quantiles).
    psi_lo = float(special.betaincinv(d_total, n - d_total + 1, gamma / 2)) if d_total > 0 else 0.0
    psi_hi = float(special.betaincinv(d_total + 1, n - d_total, 1 - gamma / 2)) if d_total < n else 1.0
    if not upper:  # H0 (drop >= m) needs psi >= m
        psi_lo = max(psi_lo, margin)
        if psi_hi <= psi_lo:
            return gamma
    z_obs = float(_margin_z(b, d_total, n, margin))
    # Coarse grid, then a finer one around the best cell: the sup over a smooth-ish curve.
    grid = np.linspace(psi_lo, psi_hi, 8)
    tails = _z_tail(z_obs, n, margin, grid, upper)
    best = int(np.argmax(tails))
    fine = np.linspace(grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)], 5)
    sup = max(float(tails.max()), float(_z_tail(z_obs, n, margin, fine, upper).max()))
    return min(1.0, sup + gamma)


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
    SE0 = sqrt(sum S_g^2) / n the no-change standard error of delta from the unit sums of d;
    never below (z_{1-alpha} + z_power)^2 / n, the drop detectable when it is carried by a share
    of the samples (each losing a whole point) rather than spread evenly over all of them.
    Without that floor two runs that scored every unit alike (SE0 = 0) claimed any drop, however
    small, detectable; for units of one binary outcome it is about the exact McNemar test's MDD.

    inf when the test cannot reach alpha at all (too few units for any sign pattern to count).
    """
    if n <= 0 or min_p > alpha:
        return math.inf
    z = stats.norm.ppf(1.0 - alpha) + stats.norm.ppf(power)
    se0 = math.sqrt(float(np.sum(np.square(unit_sums)))) / n
    return max(z * se0, z * z / n)


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
