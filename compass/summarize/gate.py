"""`compass gate`: paired regression gate between two evaluated runs.

Reads per-sample outcomes from ``predictions/<model>/<dataset>.jsonl`` of a baseline and a
candidate run, matches samples by id, and for each dataset tests whether the candidate is
worse than the baseline by more than a tolerance (``--max-drop`` points). Holm-Bonferroni
controls the family-wise false-alarm rate across datasets. See docs/gate.md.

Exit codes: 0 pass, 1 regression (or inconclusive under --strict), 2 usage/data error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import xml.etree.ElementTree as ET
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from compass.summarize import gate_args
from compass.summarize import paired_stats as ps

Kind = Literal["binary", "continuous"]
Verdict = Literal["pass", "regression", "inconclusive"]

POWER = 0.8  # power at which the minimum detectable drop is quoted
CI_LEVEL = 0.95
EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


class GateError(Exception):
    """A usage or data problem: reported as one line on stderr with exit code 2."""


# ---------------------------------------------------------------------------------------------
# Report values
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Side:
    path: str  # as given by the user
    predictions_dir: str  # the resolved predictions/<model> directory
    model: str


@dataclass(frozen=True)
class GateSettings:
    max_drop_points: float
    alpha: float
    strict: bool
    seed: int
    n_boot: int
    n_perm: int
    power: float = POWER
    ci_level: float = CI_LEVEL


@dataclass
class DatasetResult:
    """One dataset's comparison. Scores, deltas, CIs and MDD are fractions in [0, 1]."""

    dataset: str
    kind: Kind
    n: int
    n_clusters: int | None  # None when samples are independent (no `group` field)
    baseline: float
    candidate: float
    delta: float  # candidate - baseline
    ci95: tuple[float, float]
    ci_method: str
    test: str
    p_value: float  # regression test, H0: delta >= -max_drop
    p_holm: float
    p_noninferiority: float  # mirror test, H0: delta <= -max_drop (informational)
    mdd: float | None  # minimum detectable drop at POWER; None: no drop is detectable
    verdict: Verdict
    reason: str
    losses: int | None = None  # binary only: baseline right, candidate wrong
    wins: int | None = None  # binary only: baseline wrong, candidate right


@dataclass
class GateReport:
    baseline: Side
    candidate: Side
    settings: GateSettings
    datasets: list[DatasetResult]
    only_in_baseline: list[str] = field(default_factory=list)
    only_in_candidate: list[str] = field(default_factory=list)
    verdict: Verdict = "pass"
    exit_code: int = EXIT_PASS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Locating and reading runs
# ---------------------------------------------------------------------------------------------
def _models_under(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def resolve_side(path: Path, model: str | None, role: str) -> tuple[Path, str]:
    """Map a run dir / predictions dir / predictions/<model> dir (or results/ twin) to the
    predictions/<model> directory holding the jsonl files."""
    if not path.exists():
        raise GateError(f"{role} path does not exist: {path}")
    if not path.is_dir():
        raise GateError(f"{role} path is not a directory: {path} (expected a run directory or predictions/<model>)")
    # results/<model> and results/ point at their predictions/ twins.
    if path.name == "results":
        path = path.parent
    elif path.parent.name == "results":
        path = path.parent.parent / "predictions" / path.name
        if not path.is_dir():
            raise GateError(f"{role}: no predictions directory {path} next to the results (per-sample outcomes are needed)")
    if any(path.glob("*.jsonl")):  # already a predictions/<model> dir
        if model is not None and model != path.name:
            raise GateError(f"{role} path {path} holds model '{path.name}', not '{model}'")
        return path, path.name
    root = path / "predictions" if (path / "predictions").is_dir() else path
    if root.name != "predictions":
        raise GateError(f"{role} path {path} is neither a run directory (with predictions/) nor a predictions/<model> directory")
    models = _models_under(root)
    if model is not None:
        if model not in models:
            raise GateError(f"{role} run {path} has no model '{model}' (models: {', '.join(models) or 'none'})")
        return root / model, model
    if not models:
        raise GateError(f"{role} run {path} has no model predictions under {root}")
    if len(models) > 1:
        raise GateError(
            f"{role} run {path} holds {len(models)} models ({', '.join(models)}): "
            "choose one with --model (or --baseline-model/--candidate-model)"
        )
    return root / models[0], models[0]


@dataclass(frozen=True)
class Samples:
    """Per-sample outcomes of one dataset file, in file order."""

    path: Path
    kind: Kind
    ids: list[str]
    values: np.ndarray
    groups: list[str | None]


def read_samples(path: Path) -> Samples:
    """Parse one predictions jsonl file, failing with file:line on the first bad line."""
    ids: list[str] = []
    values: list[float] = []
    groups: list[str | None] = []
    seen: set[str] = set()
    kind: Kind | None = None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GateError(f"cannot read {path}: {exc}") from None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GateError(f"{where}: malformed JSON line ({exc.msg})") from None
        if not isinstance(row, dict):
            raise GateError(f"{where}: expected a JSON object per line")
        sid = row.get("id")
        if isinstance(sid, bool) or not isinstance(sid, (str, int)):
            raise GateError(f"{where}: missing or non-string 'id'")
        sid = str(sid)
        if sid in seen:
            raise GateError(f"{where}: duplicate id {sid!r}")
        seen.add(sid)
        line_kind, value = _outcome(row, where)
        if kind is None:
            kind = line_kind
        elif line_kind != kind:
            raise GateError(f"{where}: mixes 'correct' and 'score' outcomes in one file")
        group = row.get("group")
        ids.append(sid)
        values.append(value)
        groups.append(None if group is None else str(group))
    if kind is None:
        raise GateError(f"{path}: no samples")
    return Samples(path, kind, ids, np.asarray(values, dtype=float), groups)


def _outcome(row: dict[str, Any], where: str) -> tuple[Kind, float]:
    correct, score = row.get("correct"), row.get("score")
    if correct is not None:
        if isinstance(correct, bool) or correct in (0, 1):
            return "binary", float(correct)
        raise GateError(f"{where}: 'correct' must be true/false, got {correct!r}")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise GateError(f"{where}: 'score' must be a finite number, got {score!r}")
        if not 0.0 <= score <= 1.0:
            raise GateError(f"{where}: 'score' {score!r} is outside [0, 1] (scores are fractions)")
        return "continuous", float(score)
    raise GateError(f"{where}: no 'correct' or 'score' field: evaluation hasn't run on these predictions")


@dataclass(frozen=True)
class Paired:
    """Matched outcomes of one dataset, sorted by id so results do not depend on file order."""

    dataset: str
    kind: Kind
    base: np.ndarray
    cand: np.ndarray
    clusters: np.ndarray | None  # integer cluster code per sample, None if ungrouped


def pair(dataset: str, base: Samples, cand: Samples) -> Paired:
    only_base = set(base.ids) - set(cand.ids)
    only_cand = set(cand.ids) - set(base.ids)
    if only_base or only_cand:
        example = sorted(only_base or only_cand)[0]
        raise GateError(
            f"dataset '{dataset}': sample ids differ: {len(only_base)} id(s) only in baseline, "
            f"{len(only_cand)} only in candidate (e.g. {example!r}); compare runs of the same dataset"
        )
    if base.kind != cand.kind:
        raise GateError(
            f"dataset '{dataset}': baseline has {base.kind} outcomes but candidate has {cand.kind} ones"
        )
    order = sorted(range(len(base.ids)), key=base.ids.__getitem__)
    cand_pos = {sid: i for i, sid in enumerate(cand.ids)}
    cand_order = [cand_pos[base.ids[i]] for i in order]
    clusters = None
    if any(g is not None for g in base.groups) or any(g is not None for g in cand.groups):
        labels = []
        mismatched = 0
        for i, j in zip(order, cand_order):
            gb, gc = base.groups[i], cand.groups[j]
            mismatched += gb is not None and gc is not None and gb != gc
            g = gb if gb is not None else gc
            # An ungrouped sample is its own cluster.
            labels.append(g if g is not None else f"\x00{base.ids[i]}")
        if mismatched:
            raise GateError(f"dataset '{dataset}': 'group' differs between runs for {mismatched} sample(s)")
        clusters = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)[1]
    return Paired(dataset, base.kind, base.values[order], cand.values[cand_order], clusters)


def _datasets(pred_dir: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(pred_dir.glob("*.jsonl"))}


# ---------------------------------------------------------------------------------------------
# Statistics per dataset
# ---------------------------------------------------------------------------------------------
def analyse(paired: Paired, margin: float, alpha_mdd: float, settings: GateSettings) -> DatasetResult:
    """Everything but the Holm adjustment and the verdict (which need all datasets)."""
    # Seed per dataset name so adding a dataset leaves the others' numbers unchanged.
    rng = np.random.default_rng([settings.seed, zlib.crc32(paired.dataset.encode())])
    base, cand = paired.base, paired.cand
    n = int(base.size)
    d = cand - base
    extra: dict[str, Any] = {}
    if paired.kind == "binary" and paired.clusters is None:
        b = int(np.sum((base == 1) & (cand == 0)))
        c = int(np.sum((base == 0) & (cand == 1)))
        p = float(ps.mcnemar_regression_p(b, c, n, margin))
        p_ni = float(ps.mcnemar_noninferiority_p(b, c, n, margin))
        boot = ps.bootstrap_binary(b, c, n, settings.n_boot, rng)
        mdd = ps.mcnemar_mdd(n, b + c, alpha_mdd, settings.power)
        test = "exact McNemar" if margin == 0 else "exact unconditional McNemar with margin (Berger-Boos)"
        ci_method = "paired bootstrap"
        n_clusters = None
        extra = {"losses": b, "wins": c}
    else:
        if paired.clusters is None:
            sums, sizes = d, np.ones(n)
            unit = "sample"
        else:
            sums = np.bincount(paired.clusters, weights=d)
            sizes = np.bincount(paired.clusters).astype(float)
            unit = "cluster"
        shifted = sums + margin * sizes  # sum over each unit of (d_i + m)
        p = ps.sign_flip_p(shifted, "less", rng, settings.n_perm)
        p_ni = ps.sign_flip_p(shifted, "greater", rng, settings.n_perm)
        boot = ps.bootstrap_clusters(sums, sizes, settings.n_boot, rng)
        mdd = ps.normal_mdd(sums, n, alpha_mdd, ps.sign_flip_min_p(sums.size, settings.n_perm), settings.power)
        test = f"{unit} sign-flip permutation"
        ci_method = f"paired {unit} bootstrap"
        n_clusters = None if paired.clusters is None else int(sums.size)
    return DatasetResult(
        dataset=paired.dataset,
        kind=paired.kind,
        n=n,
        n_clusters=n_clusters,
        baseline=float(base.mean()),
        candidate=float(cand.mean()),
        delta=float(d.mean()),
        ci95=ps.percentile_ci(boot, settings.ci_level),
        ci_method=ci_method,
        test=test,
        p_value=p,
        p_holm=p,
        p_noninferiority=p_ni,
        mdd=None if math.isinf(mdd) else float(mdd),
        verdict="pass",
        reason="",
        **extra,
    )


def decide(result: DatasetResult, margin: float, alpha: float) -> tuple[Verdict, str]:
    """regression: Holm-adjusted regression test rejects; pass: otherwise, if a drop of
    max_drop is detectable with 80% power; inconclusive: otherwise."""
    tol = f"{100 * margin:.2f} pt"
    if result.p_holm <= alpha:
        return "regression", f"drop of {-100 * result.delta:.2f} pt exceeds the {tol} tolerance (Holm p = {_fmt_p(result.p_holm)})"
    if result.mdd is None:
        return "inconclusive", "too few samples to detect any drop: add samples"
    if result.mdd <= margin + 1e-12:
        return "pass", f"no drop beyond {tol}; drops of {100 * result.mdd:.2f} pt are detected with {POWER:.0%} power"
    return "inconclusive", (
        f"only drops of {100 * result.mdd:.2f} pt or more are detected with {POWER:.0%} power "
        f"(tolerance {tol}): add samples or raise --max-drop"
    )


def gate(
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
) -> GateReport:
    """Compare two runs. ``max_drop`` is in percentage points, as on the command line.

    Raises GateError for usage and data problems.
    """
    if not 0.0 < alpha < 1.0:
        raise GateError(f"--alpha must be in (0, 1), got {alpha}")
    if not 0.0 <= max_drop < 100.0:
        raise GateError(f"--max-drop is in points and must be in [0, 100), got {max_drop}")
    if n_boot < 100 or n_perm < 99:
        raise GateError("--n-boot must be >= 100 and --n-perm >= 99")
    settings = GateSettings(max_drop, alpha, strict, seed, n_boot, n_perm)
    base_dir, base_model = resolve_side(Path(baseline), baseline_model or model, "baseline")
    cand_dir, cand_model = resolve_side(Path(candidate), candidate_model or model, "candidate")
    base_sets, cand_sets = _datasets(base_dir), _datasets(cand_dir)
    common = sorted(base_sets.keys() & cand_sets.keys())
    if not common:
        raise GateError(f"no dataset in common between {base_dir} and {cand_dir}")
    # Read and validate everything before spending time on statistics.
    pairs = [pair(name, read_samples(base_sets[name]), read_samples(cand_sets[name])) for name in common]
    margin = max_drop / 100.0
    # Power is quoted at alpha / k, the level Holm guarantees a lone regressed dataset.
    alpha_mdd = alpha / len(pairs)
    results = [analyse(p, margin, alpha_mdd, settings) for p in pairs]
    for result, p_adj in zip(results, ps.holm([r.p_value for r in results])):
        result.p_holm = float(p_adj)
        result.verdict, result.reason = decide(result, margin, alpha)
    verdicts = {r.verdict for r in results}
    verdict: Verdict = "regression" if "regression" in verdicts else "inconclusive" if "inconclusive" in verdicts else "pass"
    failed = verdict == "regression" or (strict and verdict == "inconclusive")
    return GateReport(
        baseline=Side(str(baseline), str(base_dir), base_model),
        candidate=Side(str(candidate), str(cand_dir), cand_model),
        settings=settings,
        datasets=results,
        only_in_baseline=sorted(base_sets.keys() - cand_sets.keys()),
        only_in_candidate=sorted(cand_sets.keys() - base_sets.keys()),
        verdict=verdict,
        exit_code=EXIT_FAIL if failed else EXIT_PASS,
    )


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
def _fmt_p(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _pt(x: float) -> str:
    return f"{100 * x:.2f}"


def _mdd(r: DatasetResult) -> str:
    return "n/a" if r.mdd is None else _pt(r.mdd)


def _n(r: DatasetResult) -> str:
    return f"{r.n}" if r.n_clusters is None else f"{r.n} ({r.n_clusters} clusters)"


def _delta_ci(r: DatasetResult) -> str:
    lo, hi = r.ci95
    return f"{100 * r.delta:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"


def _headline(report: GateReport) -> str:
    s = report.settings
    strict = ", strict" if s.strict else ""
    return (
        f"tolerance: drop <= {s.max_drop_points:.2f} pt; alpha {s.alpha:g} (Holm over "
        f"{len(report.datasets)} dataset(s)); power {s.power:.0%}{strict}"
    )


def _overall_line(report: GateReport) -> str:
    names = {v: [r.dataset for r in report.datasets if r.verdict == v] for v in ("regression", "inconclusive")}
    parts = [f"{len(names[v])} {v}: {', '.join(names[v])}" for v in names if names[v]]
    detail = f" ({'; '.join(parts)})" if parts else ""
    outcome = "FAIL" if report.exit_code else "ok"
    return f"gate verdict: {report.verdict.upper()}{detail} -> {outcome} (exit {report.exit_code})"


def render_text(report: GateReport) -> str:
    header = ["dataset", "n", "baseline", "candidate", "delta [95% CI]", "p", "p_holm", "MDD", "verdict"]
    rows = [
        [r.dataset, _n(r), _pt(r.baseline), _pt(r.candidate), _delta_ci(r), _fmt_p(r.p_value),
         _fmt_p(r.p_holm), _mdd(r), r.verdict]
        for r in report.datasets
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        f"compass gate: baseline {report.baseline.path} [{report.baseline.model}] "
        f"vs candidate {report.candidate.path} [{report.candidate.model}]",
        _headline(report) + "; scores in points",
        "",
        "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.append("")
    lines += [f"  {r.dataset}: {r.verdict}: {r.reason}" for r in report.datasets if r.verdict != "pass"]
    for side, names in (("baseline", report.only_in_baseline), ("candidate", report.only_in_candidate)):
        if names:
            lines.append(f"  not compared, only in {side}: {', '.join(names)}")
    lines.append(_overall_line(report))
    return "\n".join(lines)


_ICONS = {"pass": "✅", "regression": "❌", "inconclusive": "⚠️"}


def render_markdown(report: GateReport) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    s = report.settings
    lines = [
        f"### compass gate: {_ICONS[report.verdict]} {report.verdict}",
        "",
        f"Baseline `{esc(report.baseline.path)}` ({esc(report.baseline.model)}) vs candidate "
        f"`{esc(report.candidate.path)}` ({esc(report.candidate.model)}). A dataset regresses when the "
        f"candidate is worse by more than **{s.max_drop_points:.2f} pt** (one-sided, α = {s.alpha:g}, "
        f"Holm-adjusted over {len(report.datasets)} dataset(s)).",
        "",
        "| Dataset | n | Baseline | Candidate | Δ [95% CI] | p | p (Holm) | MDD | Verdict |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in report.datasets:
        lines.append(
            f"| {esc(r.dataset)} | {_n(r)} | {_pt(r.baseline)} | {_pt(r.candidate)} | {_delta_ci(r)} | "
            f"{_fmt_p(r.p_value)} | {_fmt_p(r.p_holm)} | {_mdd(r)} | {_ICONS[r.verdict]} {r.verdict} |"
        )
    lines += ["", f"Scores in points. MDD: smallest drop detected with {s.power:.0%} power at this n."]
    lines += [f"- **{esc(r.dataset)}**: {esc(r.reason)}" for r in report.datasets if r.verdict != "pass"]
    for side, names in (("baseline", report.only_in_baseline), ("candidate", report.only_in_candidate)):
        if names:
            lines.append(f"- Not compared, only in {side}: {esc(', '.join(names))}")
    lines.append(f"\n{_overall_line(report)}")
    return "\n".join(lines) + "\n"


def render_junit(report: GateReport) -> str:
    model = report.candidate.model
    suite = ET.Element("testsuite", name=f"compass gate ({model})")
    failures = skipped = 0
    for r in report.datasets:
        case = ET.SubElement(suite, "testcase", classname=f"compass.gate.{model}", name=r.dataset, time="0")
        summary = (
            f"baseline {_pt(r.baseline)}, candidate {_pt(r.candidate)}, delta {_delta_ci(r)} pt, "
            f"p {_fmt_p(r.p_value)} (Holm {_fmt_p(r.p_holm)}), MDD {_mdd(r)} pt: {r.reason}"
        )
        if r.verdict == "regression" or (r.verdict == "inconclusive" and report.settings.strict):
            failures += 1
            ET.SubElement(case, "failure", message=r.reason, type=r.verdict).text = summary
        elif r.verdict == "inconclusive":
            skipped += 1
            ET.SubElement(case, "skipped", message=r.reason)
        ET.SubElement(case, "system-out").text = summary
    for side, names in (("baseline", report.only_in_baseline), ("candidate", report.only_in_candidate)):
        for name in names:
            skipped += 1
            case = ET.SubElement(suite, "testcase", classname=f"compass.gate.{model}", name=name, time="0")
            ET.SubElement(case, "skipped", message=f"only in {side}: not compared")
    total = len(report.datasets) + len(report.only_in_baseline) + len(report.only_in_candidate)
    counts = {"tests": str(total), "failures": str(failures), "errors": "0", "skipped": str(skipped)}
    suite.attrib.update(counts)
    root = ET.Element("testsuites", name="compass gate", **{k: v for k, v in counts.items() if k != "skipped"})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_json(report: GateReport) -> str:
    return json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise GateError(f"cannot write {path}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# Command line (arguments live in gate_args.py so `compass --help` need not import scipy)
# ---------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    """Execute a parsed `compass gate` command; returns the exit code."""
    try:
        report = gate(
            args.baseline, args.candidate, max_drop=args.max_drop, alpha=args.alpha, strict=args.strict,
            model=args.model, baseline_model=args.baseline_model, candidate_model=args.candidate_model,
            seed=args.seed, n_boot=args.n_boot, n_perm=args.n_perm,
        )
        for path, render in ((args.json, render_json), (args.markdown, render_markdown), (args.junit, render_junit)):
            if path is not None:
                _write(path, render(report))
    except GateError as exc:
        print(f"compass gate: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(render_text(report))
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="compass gate", description="Paired regression gate between two evaluated runs (see docs/gate.md)."
    )
    gate_args.add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help exits 0, usage errors 2
        return int(exc.code or 0)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
