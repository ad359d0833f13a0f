"""The comparison itself: locate both sides, pair each common dataset, test it, adjust for
multiplicity (Holm) and give each dataset and the whole comparison a verdict. See docs/gate.md."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from compass.contamination.labels import label_file, labels_dir, read_labels
from compass.errors import CompassError
from compass.gate.locate import Located, locate
from compass.gate.pair import Outcomes, Paired, pair, read_outcomes, restrict
from compass.gate.prompts import check_prompts
from compass.gate.report import (
    EXIT_FAIL,
    EXIT_PASS,
    POWER,
    DatasetResult,
    GateReport,
    GateSettings,
    Side,
    Verdict,
)
from compass.gate.truncation import truncation_note
from compass.stats import comparison
from compass.stats import paired as ps


def compare(
    baseline: Path,
    candidate: Path,
    *,
    max_drop: float = 1.0,
    alpha: float = 0.05,
    strict: bool = False,
    model: str | None = None,
    baseline_model: str | None = None,
    candidate_model: str | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    n_perm: int = 10_000,
    allow_prompt_change: bool = False,
    clean_only: bool = False,
    contamination: Path | None = None,
) -> GateReport:
    """Compare two runs; ``max_drop`` is in percentage points, as on the command line. Usage and
    data problems, and datasets whose prompts differ (unless ``allow_prompt_change``), raise
    :class:`CompassError`."""
    if not 0.0 < alpha < 1.0:
        raise CompassError(f"--alpha must be in (0, 1), got {alpha}")
    if not 0.0 <= max_drop < 100.0:
        raise CompassError(f"--max-drop is in points and must be in [0, 100), got {max_drop}")
    if n_boot < 100 or n_perm < 99:
        raise CompassError("--n-boot must be >= 100 and --n-perm >= 99")
    settings = GateSettings(max_drop, alpha, strict, seed, n_boot, n_perm)
    base = locate(Path(baseline), baseline_model or model, "baseline")
    cand = locate(Path(candidate), candidate_model or model, "candidate")
    common = sorted(base.datasets.keys() & cand.datasets.keys())
    if not common:
        raise CompassError(f"no dataset in common between {base.scored_dir} and {cand.scored_dir}")
    if contamination is not None and not clean_only:
        raise CompassError("--contamination: only used with --clean-only")
    # Read and check everything before spending time on statistics.
    pairs = [pair(name, _outcomes(base, name), _outcomes(cand, name)) for name in common]
    labels, not_clean = (None, {}) if not clean_only else _clean_only(cand, base, contamination, pairs)
    prompts = check_prompts({name: (base.result(name), cand.result(name)) for name in common}, allow_prompt_change)
    margin = max_drop / 100.0
    results = [analyse(p, margin, len(pairs), settings) for p in pairs]
    for result in results:
        result.not_clean = not_clean.get(result.dataset)
        if result.dataset in prompts.differ:
            result.prompt_note = f"{prompts.differ[result.dataset]}; compared anyway (--allow-prompt-change)"
        result.truncated, result.truncation_note = truncation_note(base.result(result.dataset),
                                                                   cand.result(result.dataset))
    for result, p_adj in zip(results, ps.holm([r.p_value for r in results])):
        result.p_holm = float(p_adj)
        result.verdict, result.reason = decide(result, margin, alpha)
    verdicts = {r.verdict for r in results}
    verdict: Verdict = ("regression" if "regression" in verdicts
                        else "inconclusive" if "inconclusive" in verdicts else "pass")
    failed = verdict == "regression" or (strict and verdict == "inconclusive")
    return GateReport(
        baseline=_side(base), candidate=_side(cand), settings=settings, datasets=results,
        only_in_baseline=sorted(base.datasets.keys() - cand.datasets.keys()),
        only_in_candidate=sorted(cand.datasets.keys() - base.datasets.keys()), prompts_unchecked=prompts.unchecked,
        verdict=verdict, exit_code=EXIT_FAIL if failed else EXIT_PASS, clean_only=labels)


def _clean_only(cand: Located, base: Located, given: Path | None, pairs: list[Paired]) -> tuple[str, dict[str, int]]:
    """Keeps, in place of each pair, only its samples labelled clean; returns the labels directory and
    per dataset how many samples were left out. Every compared dataset needs labels."""
    directory = labels_dir(cand.run.root, given) or labels_dir(base.run.root, None)
    if directory is None:
        raise CompassError(f"--clean-only: no contamination labels beside {cand.run.root} (nor the baseline); "
                           f"give --contamination DIR (written by `compass contamination`)")
    dropped = {}
    for i, p in enumerate(pairs):
        labels = read_labels(directory, p.dataset)
        if labels is None:
            raise CompassError(f"--clean-only: no labels for dataset {p.dataset!r} in {directory} "
                               f"(expected {label_file(directory, p.dataset)})")
        keep = np.array([labels[sid].label == "clean" if sid in labels else False for sid in p.ids], dtype=bool)
        if not keep.any():
            raise CompassError(f"--clean-only: dataset {p.dataset!r} has no sample labelled clean in {directory}")
        pairs[i] = restrict(p, keep)
        dropped[p.dataset] = int((~keep).sum())
    return str(directory), dropped


def _outcomes(side: Located, dataset: str) -> Outcomes:
    return read_outcomes(side.datasets[dataset], side.result(dataset))


def _side(side: Located) -> Side:
    return Side(str(side.given), str(side.scored_dir), side.model)


def analyse(paired: Paired, margin: float, k: int, settings: GateSettings) -> DatasetResult:
    """One dataset's numbers (all but the Holm adjustment and the verdict, which need every dataset).

    Declared clusters are the test's units, unless they are too few for any verdict: then the
    clustered test could never flag a regression nor show enough power to pass, whatever the data,
    so the paired per-sample test is used instead and the result says so."""
    # Seeded per dataset name, so adding a dataset leaves the others' numbers unchanged.
    rng = np.random.default_rng([settings.seed, zlib.crc32(paired.dataset.encode())])
    alpha_k = settings.alpha / k  # power is quoted at the level Holm holds a lone regressed dataset to
    clusters, fallback = paired.clusters, None
    if paired.n_clusters is not None and not comparison.can_reach(paired.n_clusters, alpha_k, settings.n_perm):
        smallest = ps.sign_flip_min_p(paired.n_clusters, settings.n_perm)
        fallback = (f"too few clusters for any verdict ({paired.n_clusters} clusters: the clustered test's smallest "
                    f"p-value is {smallest:.4g}, above alpha / k = {settings.alpha:g} / {k} = {alpha_k:.4g}); "
                    f"fell back to the paired per-sample test, which treats the samples as independent")
        clusters = None
    if paired.kind == "binary" and clusters is None:
        c = comparison.compare_binary(paired.base, paired.cand, margin, alpha_k, power=settings.power,
                                      n_boot=settings.n_boot, ci_level=settings.ci_level, rng=rng)
    else:
        c = comparison.compare_units(paired.base, paired.cand, clusters, margin, alpha_k, power=settings.power,
                                     n_boot=settings.n_boot, n_perm=settings.n_perm, ci_level=settings.ci_level,
                                     rng=rng)
    return DatasetResult(
        dataset=paired.dataset, kind=paired.kind, evaluator=paired.evaluator, n=c.n, n_clusters=paired.n_clusters,
        unit=c.unit, fallback=fallback, baseline=c.baseline, candidate=c.candidate, delta=c.delta, ci95=c.ci,
        ci_method=c.ci_method, test=c.test + (" (per-sample fallback)" if fallback else ""),
        p_value=c.p_regression, p_holm=c.p_regression, p_noninferiority=c.p_noninferiority,
        mdd=comparison.detectable(c.mdd), verdict="pass", reason="", losses=c.losses, wins=c.wins)


def decide(result: DatasetResult, margin: float, alpha: float) -> tuple[Verdict, str]:
    """regression: the Holm-adjusted regression test rejects; pass: otherwise, if a drop of
    max_drop is detectable with 80% power; inconclusive: otherwise."""
    tol = f"{100 * margin:.2f} pt"
    if result.p_holm <= alpha:
        return "regression", (f"drop of {-100 * result.delta:.2f} pt exceeds the {tol} tolerance "
                              f"(Holm p = {format_p(result.p_holm)})")
    if result.mdd is None:
        return "inconclusive", f"too few {result.unit}s to detect any drop: add samples"
    if result.mdd <= margin + 1e-12:
        return "pass", f"no drop beyond {tol}; drops of {100 * result.mdd:.2f} pt are detected with {POWER:.0%} power"
    return "inconclusive", (f"only drops of {100 * result.mdd:.2f} pt or more are detected with {POWER:.0%} power "
                            f"(tolerance {tol}): add samples or raise --max-drop")


def format_p(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"
