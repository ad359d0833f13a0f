"""A gate report as console text, JSON, Markdown (a CI job summary) and JUnit XML. Every format
carries the same facts, including a per-sample fallback from too few clusters."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from compass.gate.analyse import format_p
from compass.gate.report import DatasetResult, GateReport


def _pt(x: float) -> str:
    return f"{100 * x:.2f}"


def _mdd(r: DatasetResult) -> str:
    return "n/a" if r.mdd is None else _pt(r.mdd)


def _n(r: DatasetResult) -> str:
    if r.n_clusters is None:
        return f"{r.n}"
    return f"{r.n} ({r.n_clusters} clusters)" if r.fallback is None else f"{r.n} ({r.n_clusters} clusters: too few)"


def _delta_ci(r: DatasetResult) -> str:
    lo, hi = r.ci95
    return f"{100 * r.delta:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"


def _overall_line(report: GateReport) -> str:
    names = {v: [r.dataset for r in report.datasets if r.verdict == v] for v in ("regression", "inconclusive")}
    parts = [f"{len(names[v])} {v}: {', '.join(names[v])}" for v in names if names[v]]
    detail = f" ({'; '.join(parts)})" if parts else ""
    outcome = "FAIL" if report.exit_code else "ok"
    return f"gate verdict: {report.verdict.upper()}{detail} -> {outcome} (exit {report.exit_code})"


def _not_compared(report: GateReport) -> list[tuple[str, list[str]]]:
    return [(side, names) for side, names in (("baseline", report.only_in_baseline),
                                              ("candidate", report.only_in_candidate)) if names]


def _unchecked(report: GateReport) -> str | None:
    if not report.prompts_unchecked:
        return None
    return (f"prompts not checked for {', '.join(report.prompts_unchecked)}: a result file lacks a prompt hash "
            f"(a run from before prompt hashes, or no result file)")


def _notes(report: GateReport) -> list[tuple[DatasetResult, str]]:
    """Per dataset, in order: its prompts, why its clusters were not used, and why it did not pass."""
    notes = []
    for r in report.datasets:
        if r.prompt_note:
            notes.append((r, r.prompt_note))
        if r.truncation_note:
            notes.append((r, r.truncation_note))
        if r.fallback:
            notes.append((r, r.fallback))
        if r.verdict != "pass":
            notes.append((r, f"{r.verdict}: {r.reason}"))
    return notes


def _clean_lines(report: GateReport) -> list[str]:
    if report.clean_only is None:
        return []
    left = ", ".join(f"{r.dataset} {r.not_clean}" for r in report.datasets if r.not_clean is not None)
    return [f"clean samples only (labels {report.clean_only}); samples left out (partial, contaminated or unlabelled): "
            f"{left}"]


def render_text(report: GateReport) -> str:
    s = report.settings
    header = ["dataset", "n", "baseline", "candidate", "delta [95% CI]", "p", "p_holm", "MDD", "verdict"]
    rows = [[r.dataset, _n(r), _pt(r.baseline), _pt(r.candidate), _delta_ci(r), format_p(r.p_value),
             format_p(r.p_holm), _mdd(r), r.verdict] for r in report.datasets]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        (f"compass gate: baseline {report.baseline.path} [{report.baseline.model}] "
         f"vs candidate {report.candidate.path} [{report.candidate.model}]"),
        (f"tolerance: drop <= {s.max_drop_points:.2f} pt; alpha {s.alpha:g} (Holm over {len(report.datasets)} "
         f"dataset(s)); power {s.power:.0%}{', strict' if s.strict else ''}; scores in points"),
        *_clean_lines(report),
        "",
        "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.append("")
    lines += [f"  {r.dataset}: {note}" for r, note in _notes(report)]
    lines += [f"  {note}" for note in [_unchecked(report)] if note]
    lines += [f"  not compared, only in {side}: {', '.join(names)}" for side, names in _not_compared(report)]
    lines.append(_overall_line(report))
    return "\n".join(lines)


_ICONS = {"pass": "✅", "regression": "❌", "inconclusive": "⚠️"}


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: GateReport) -> str:
    s = report.settings
    lines = [
        f"### compass gate: {_ICONS[report.verdict]} {report.verdict}",
        "",
        (f"Baseline `{_md(report.baseline.path)}` ({_md(report.baseline.model)}) vs candidate "
         f"`{_md(report.candidate.path)}` ({_md(report.candidate.model)}). A dataset regresses when the "
         f"candidate is worse by more than **{s.max_drop_points:.2f} pt** (one-sided, α = {s.alpha:g}, "
         f"Holm-adjusted over {len(report.datasets)} dataset(s))."),
        "",
        "| Dataset | n | Baseline | Candidate | Δ [95% CI] | p | p (Holm) | MDD | Verdict |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    lines += [f"| {_md(r.dataset)} | {_n(r)} | {_pt(r.baseline)} | {_pt(r.candidate)} | {_delta_ci(r)} | "
              f"{format_p(r.p_value)} | {format_p(r.p_holm)} | {_mdd(r)} | {_ICONS[r.verdict]} {r.verdict} |"
              for r in report.datasets]
    lines += ["", f"Scores in points. MDD: smallest drop detected with {s.power:.0%} power at this n."]
    lines += [f"- {_md(line)}" for line in _clean_lines(report)]
    lines += [f"- **{_md(r.dataset)}**: {_md(note)}" for r, note in _notes(report)]
    lines += [f"- {_md(note)}" for note in [_unchecked(report)] if note]
    lines += [f"- Not compared, only in {side}: {_md(', '.join(names))}" for side, names in _not_compared(report)]
    lines.append(f"\n{_overall_line(report)}")
    return "\n".join(lines) + "\n"


def render_junit(report: GateReport) -> str:
    model = report.candidate.model
    suite = ET.Element("testsuite", name=f"compass gate ({model})")
    failures = skipped = 0
    for r in report.datasets:
        case = ET.SubElement(suite, "testcase", classname=f"compass.gate.{model}", name=r.dataset, time="0")
        summary = (f"baseline {_pt(r.baseline)}, candidate {_pt(r.candidate)}, delta {_delta_ci(r)} pt, "
                   f"p {format_p(r.p_value)} (Holm {format_p(r.p_holm)}), MDD {_mdd(r)} pt, {r.test}: {r.reason}"
                   + (f"\n{r.fallback}" if r.fallback else "") + (f"\n{r.prompt_note}" if r.prompt_note else "")
                   + (f"\n{r.truncation_note}" if r.truncation_note else "")
                   + ("\nprompts not checked: a result file lacks a prompt hash"
                      if r.dataset in report.prompts_unchecked else ""))
        message = r.reason + (f" [{r.fallback}]" if r.fallback else "")
        if r.verdict == "regression" or (r.verdict == "inconclusive" and report.settings.strict):
            failures += 1
            ET.SubElement(case, "failure", message=message, type=r.verdict).text = summary
        elif r.verdict == "inconclusive":
            skipped += 1
            ET.SubElement(case, "skipped", message=message)
        ET.SubElement(case, "system-out").text = summary
    for side, names in _not_compared(report):
        for name in names:
            skipped += 1
            case = ET.SubElement(suite, "testcase", classname=f"compass.gate.{model}", name=name, time="0")
            ET.SubElement(case, "skipped", message=f"only in {side}: not compared")
    total = len(report.datasets) + len(report.only_in_baseline) + len(report.only_in_candidate)
    counts = {"tests": str(total), "failures": str(failures), "errors": "0", "skipped": str(skipped)}
    suite.attrib.update(counts)
    root = ET.Element("testsuites", {"name": "compass gate", **{k: v for k, v in counts.items() if k != "skipped"}})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_json(report: GateReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
