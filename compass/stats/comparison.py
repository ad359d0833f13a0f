"""The paired comparison of two runs' per-sample outcomes: the test that fits the data, and its numbers.

Pure functions over arrays (no files, no verdicts); ``compass.gate`` decides what the numbers mean.
Values are fractions in [0, 1]; ``margin`` is the tolerated drop; the p-values are those of
``compass.stats.paired`` (regression test H0: delta >= -margin, and its mirror).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from compass.stats import paired as ps

Unit = Literal["sample", "cluster"]


@dataclass(frozen=True)
class Comparison:
    unit: Unit  # what the test treats as independent
    n: int  # samples
    n_units: int  # independent units tested (samples, or clusters)
    baseline: float
    candidate: float
    delta: float  # candidate - baseline
    ci: tuple[float, float]  # percentile bootstrap interval of delta
    ci_method: str
    test: str
    p_regression: float
    p_noninferiority: float
    mdd: float  # minimum detectable drop at the given power; math.inf when no drop is detectable
    losses: int | None = None  # binary per-sample test only: baseline right, candidate wrong
    wins: int | None = None


def can_reach(n_units: int, alpha: float, n_perm: int) -> bool:
    """Whether the sign-flip test over this many units can give any p-value <= alpha at all:
    with G units enumerated exactly the smallest is 2^-G, so G < log2(1 / alpha) units can never
    show anything."""
    return ps.sign_flip_min_p(n_units, n_perm) <= alpha


def compare_binary(base: np.ndarray, cand: np.ndarray, margin: float, alpha_mdd: float, *, power: float,
                   n_boot: int, ci_level: float, rng: np.random.Generator) -> Comparison:
    """Independent binary pairs: exact McNemar (with a margin: Berger-Boos unconditional)."""
    n = int(base.size)
    losses = int(np.sum((base == 1) & (cand == 0)))
    wins = int(np.sum((base == 0) & (cand == 1)))
    test = "exact McNemar" if margin == 0 else "exact unconditional McNemar with margin (Berger-Boos)"
    return Comparison(
        unit="sample", n=n, n_units=n, baseline=float(base.mean()), candidate=float(cand.mean()),
        delta=(wins - losses) / n,
        ci=ps.percentile_ci(ps.bootstrap_binary(losses, wins, n, n_boot, rng), ci_level),
        ci_method="paired bootstrap", test=test,
        p_regression=float(ps.mcnemar_regression_p(losses, wins, n, margin)),
        p_noninferiority=float(ps.mcnemar_noninferiority_p(losses, wins, n, margin)),
        mdd=ps.mcnemar_mdd(n, losses + wins, alpha_mdd, power), losses=losses, wins=wins)


def compare_units(base: np.ndarray, cand: np.ndarray, clusters: np.ndarray | None, margin: float,
                  alpha_mdd: float, *, power: float, n_boot: int, n_perm: int, ci_level: float,
                  rng: np.random.Generator) -> Comparison:
    """Sign-flip permutation test over units: clusters (integer code per sample) or, with
    ``clusters`` None, single samples. Any outcome type (binary or graded)."""
    n = int(base.size)
    d = cand - base
    if clusters is None:
        unit: Unit = "sample"
        sums, sizes = d, np.ones(n)
    else:
        sums = np.bincount(clusters, weights=d)
        sizes = np.bincount(clusters).astype(float)
        unit = "cluster"
    shifted = sums + margin * sizes  # per unit, the sum of (d_i + m)
    return Comparison(
        unit=unit, n=n, n_units=int(sums.size), baseline=float(base.mean()), candidate=float(cand.mean()),
        delta=float(d.mean()),
        ci=ps.percentile_ci(ps.bootstrap_clusters(sums, sizes, n_boot, rng), ci_level),
        ci_method=f"paired {unit} bootstrap", test=f"{unit} sign-flip permutation",
        p_regression=ps.sign_flip_p(shifted, "less", rng, n_perm),
        p_noninferiority=ps.sign_flip_p(shifted, "greater", rng, n_perm),
        mdd=ps.normal_mdd(sums, n, alpha_mdd, ps.sign_flip_min_p(sums.size, n_perm), power))


def detectable(mdd: float) -> float | None:
    """The MDD as a JSON-safe value: None when no drop is detectable."""
    return None if math.isinf(mdd) else float(mdd)
