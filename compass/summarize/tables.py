"""Leaderboard tables from result files: datasets (and groups) × models, each score with its 95% CI."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from compass import records
from compass.config import SummarizerCfg
from compass.records import Result
from compass.stats.intervals import Z95
from compass.store import RunDir

if TYPE_CHECKING:
    from compass.summarize.split import Split


@dataclass(frozen=True)
class Cell:
    value: float  # the dataset's primary metric, a fraction in [0, 1]
    lo: float
    hi: float
    n: int
    truncated: float | None = None  # share of completions cut at max_out_len, when over the summarizer's flag

    def text(self) -> str:
        flag = " (!)" if self.truncated is not None else ""
        return f"{100 * self.value:.2f} [{100 * self.lo:.1f}, {100 * self.hi:.1f}]{flag}"


@dataclass(frozen=True)
class Column:
    """One leaderboard column: a model of a run (several runs can share one leaderboard)."""

    name: str
    run: RunDir
    model: str  # the model's abbr inside that run


@dataclass
class Table:
    columns: list[Column]
    rows: list[tuple[str, str, dict[str, Cell | None]]]  # (dataset or group, metric, column name -> cell)
    notes: list[str] = field(default_factory=list)  # what a flag (!) in a cell means, one line each
    split: Split | None = None  # scores by contamination label, when the run's datasets have labels

    @property
    def models(self) -> list[str]:
        return [c.name for c in self.columns]


def _group_cell(cells: list[Cell], weights: list[float]) -> Cell:
    """Weighted mean of independent subset scores. Its CI combines the subsets' own intervals
    (each read as ±1.96 standard errors), so a subset at 0% or 100% still carries its uncertainty
    instead of the zero variance p(1-p)/n would give it."""
    total = sum(weights)
    value = sum(w * c.value for w, c in zip(weights, cells)) / total
    var = sum((w / total) ** 2 * ((c.hi - c.lo) / (2 * Z95)) ** 2 for w, c in zip(weights, cells))
    half = Z95 * math.sqrt(var)
    return Cell(value, max(0.0, value - half), min(1.0, value + half), sum(c.n for c in cells))


def collect(columns: list[Column], datasets: list[str], summarizer: SummarizerCfg) -> Table:
    cells: dict[tuple[str, str], Cell] = {}
    metric_names: dict[str, str] = {}
    notes: list[str] = []
    models = [c.name for c in columns]
    for column in columns:
        model = column.name
        for ds in datasets:
            path = column.run.result(column.model, ds)
            if path.exists():
                r = records.read_record(path, Result)
                metric_names.setdefault(ds, r.primary)
                lo, hi = r.ci95[r.primary]
                cut = r.metrics.get("truncated")
                flagged = cut if cut is not None and cut > summarizer.flag_truncated else None
                cells[(ds, model)] = Cell(r.metrics[r.primary], lo, hi, r.n, flagged)
                if flagged is not None:
                    notes.append(f"(!) {model} on {ds}: {100 * flagged:.1f}% of completions hit max_out_len "
                                 f"(truncated), above the {100 * summarizer.flag_truncated:g}% flag")
    order = summarizer.dataset_abbrs or datasets
    rows = [(ds, metric_names.get(ds, "accuracy"), {m: cells.get((ds, m)) for m in models})
            for ds in order if ds in datasets]
    for group in summarizer.summary_groups:
        weights = group.weights or [1.0] * len(group.subsets)
        row = {}
        for m in models:
            members = [cells.get((s, m)) for s in group.subsets]
            row[m] = _group_cell(members, weights) if all(members) else None  # type: ignore[arg-type]
        rows.append((group.name, "average" if not group.weights else "weighted average", row))
    return Table(columns, rows, notes)


def _grid(table: Table) -> list[list[str]]:
    header = ["dataset", "metric", *table.models]
    body = [[name, metric, *(c.text() if c else "-" for c in (row[m] for m in table.models))]
            for name, metric, row in table.rows]
    return [header, *body]


def to_text(table: Table) -> str:
    grid = _grid(table)
    widths = [max(len(r[i]) for r in grid) for i in range(len(grid[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in grid]
    lines.insert(1, "  ".join("-" * w for w in widths))
    text = "\n".join(lines + (["", *table.notes] if table.notes else [])) + "\n"
    if table.split is not None and table.split.rows:
        from compass.summarize import split

        text += "\n" + split.to_text(table.split)
    return text


def to_markdown(table: Table) -> str:
    grid = _grid(table)
    lines = ["| " + " | ".join(grid[0]) + " |", "|" + "|".join("---" for _ in grid[0]) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in grid[1:]]
    notes = "".join(f"\n{note}\n" for note in table.notes)
    text = "\n".join(lines) + "\n\nScores are accuracy in %, with 95% confidence intervals in brackets.\n" + notes
    if table.split is not None and table.split.rows:
        from compass.summarize import split

        text += "\n" + split.to_markdown(table.split)
    return text


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["dataset", "metric", *(f"{m}{suffix}" for m in table.models for suffix in ("", "_ci_lo", "_ci_hi"))])
    for name, metric, row in table.rows:
        values = []
        for m in table.models:
            c = row[m]
            values += [f"{100 * c.value:.2f}", f"{100 * c.lo:.2f}", f"{100 * c.hi:.2f}"] if c else ["", "", ""]
        writer.writerow([name, metric, *values])
    if table.split is not None and table.split.rows:
        from compass.summarize import split

        writer.writerows(split.csv_rows(table.split, table.models))
    return out.getvalue()
