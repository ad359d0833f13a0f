"""Scores split by contamination label: per model and dataset, the score on the clean, partial and
contaminated samples (each with its 95% interval) and the contaminated - clean difference with its
interval and a two-sided permutation test (docs/contamination.md, "Scores split by contamination").

Outcomes come from the run's scored rows, labels from ``compass contamination``'s files, joined on the
sample id. A dataset without a label file is left out; samples without a label are counted apart.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compass import records
from compass.contamination.labels import labels_dir, read_labels
from compass.records import Scored
from compass.stats.intervals import bootstrap_mean, wilson
from compass.stats.two_sample import Difference, difference


@dataclass(frozen=True)
class Subset:
    n: int
    value: float | None  # mean outcome; None when the subset is empty
    lo: float | None
    hi: float | None

    def text(self) -> str:
        if self.value is None or self.lo is None or self.hi is None:
            return "- (n=0)"
        return f"{100 * self.value:.2f} [{100 * self.lo:.1f}, {100 * self.hi:.1f}] (n={self.n})"


@dataclass(frozen=True)
class SplitRow:
    dataset: str
    model: str  # the leaderboard column's name
    clean: Subset
    partial: Subset
    contaminated: Subset
    unlabelled: int  # scored samples with no label (labels of another test_range, or of another dataset version)
    diff: Difference | None  # contaminated - clean; None unless both subsets have samples
    unchecked: int = 0  # samples too short to check: in no subset

    def diff_text(self) -> str:
        d = self.diff
        if d is None:
            return "-"
        return f"{100 * d.delta:+.2f} [{100 * d.ci95[0]:+.1f}, {100 * d.ci95[1]:+.1f}]"

    def p_text(self) -> str:
        return "-" if self.diff is None else f"{self.diff.p_value:.4f}"


@dataclass(frozen=True)
class Split:
    rows: list[SplitRow]
    sources: list[str]  # the label directories read


def _subset(values: np.ndarray, binary: bool) -> Subset:
    if values.size == 0:
        return Subset(0, None, None, None)
    lo, hi = wilson(int(values.sum()), int(values.size)) if binary else bootstrap_mean(values)
    return Subset(int(values.size), float(values.mean()), lo, hi)


def collect(columns, datasets: list[str], given: str | Path | None) -> Split:
    """The split for every column (a model of a run) and dataset that has both scored rows and labels."""
    rows, sources = [], []
    for column in columns:
        directory = labels_dir(column.run.root, given)
        if directory is None:
            continue
        if str(directory) not in sources:
            sources.append(str(directory))
        for ds in datasets:
            scored_path = column.run.scored(column.model, ds)
            labels = read_labels(directory, ds)
            if labels is None or not scored_path.is_file():
                continue
            scored = records.read_lines(scored_path, Scored)
            if not scored:
                continue
            binary = all(r.correct is not None for r in scored)
            # Unchecked samples (too short to check) are in no subset: calling them clean would be a guess.
            by_label: dict[str, list[float]] = {"clean": [], "partial": [], "contaminated": [], "unchecked": []}
            unlabelled = 0
            for r in scored:
                label = labels.get(r.id)
                if label is None:
                    unlabelled += 1
                else:
                    by_label[label.label].append(r.value)
            values = {k: np.asarray(v, dtype=float) for k, v in by_label.items()}
            clean, dirty = values["clean"], values["contaminated"]
            diff = None
            if clean.size and dirty.size:  # seeded per dataset, so the same files give the same numbers
                diff = difference(clean, dirty, binary=binary, seed=zlib.crc32(ds.encode()))
            rows.append(SplitRow(ds, column.name, _subset(clean, binary), _subset(values["partial"], binary),
                                 _subset(dirty, binary), unlabelled, diff, len(values["unchecked"])))
    return Split(rows, sources)


HEADER = ["dataset", "model", "clean", "partial", "contaminated", "contaminated - clean (pt)", "p"]
EXPLAIN = ("Scores in % with 95% intervals (Wilson; bootstrap for graded scores) and sample counts; the difference "
           "with its 95% interval (Newcombe; bootstrap for graded scores) and a two-sided permutation test.")


def grid(split: Split) -> list[list[str]]:
    return [HEADER, *([r.dataset, r.model, r.clean.text(), r.partial.text(), r.contaminated.text(), r.diff_text(),
                       r.p_text()] for r in split.rows)]


def notes(split: Split) -> list[str]:
    out = [f"labels: {', '.join(split.sources)}"]
    out += [f"{r.model} on {r.dataset}: {r.unlabelled} scored sample(s) have no label (checked with other data?)"
            for r in split.rows if r.unlabelled]
    out += [f"{r.model} on {r.dataset}: {r.unchecked} sample(s) too short to check, in no subset"
            for r in split.rows if r.unchecked]
    return out


def to_text(split: Split) -> str:
    g = grid(split)
    widths = [max(len(r[i]) for r in g) for i in range(len(g[0]))]
    lines = ["Scores by contamination label", ""]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in g]
    lines.insert(3, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, "", EXPLAIN, *notes(split)]) + "\n"


def to_markdown(split: Split) -> str:
    g = grid(split)
    lines = ["## Scores by contamination label", "", "| " + " | ".join(g[0]) + " |", "|" + "|".join("---" for _ in g[0]) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in g[1:]]
    return "\n".join([*lines, "", EXPLAIN, "", *(f"{n}\n" for n in notes(split))])


def csv_rows(split: Split, models: list[str]) -> list[list[str]]:
    """Rows in the leaderboard CSV's layout (dataset, metric, then value, ci_lo, ci_hi per model):
    one per label subset and one for the difference, the metric naming it."""
    out = []
    datasets = list(dict.fromkeys(r.dataset for r in split.rows))
    for ds in datasets:
        mine = {r.model: r for r in split.rows if r.dataset == ds}
        for name in ("clean", "partial", "contaminated", "contaminated - clean"):
            values: list[str] = []
            for m in models:
                r = mine.get(m)
                if r is None:
                    values += ["", "", ""]
                elif name == "contaminated - clean":
                    d = r.diff
                    values += ([f"{100 * d.delta:.2f}", f"{100 * d.ci95[0]:.2f}", f"{100 * d.ci95[1]:.2f}"] if d
                               else ["", "", ""])
                else:
                    s: Subset = getattr(r, name)
                    values += ([f"{100 * s.value:.2f}", f"{100 * s.lo:.2f}", f"{100 * s.hi:.2f}"]
                               if s.value is not None and s.lo is not None and s.hi is not None else ["", "", ""])
            n = next(iter(mine.values()))
            size = f" (n={getattr(n, name).n})" if name != "contaminated - clean" else " (pt)"
            out.append([ds, f"contamination: {name}{size}", *values])
    return out
