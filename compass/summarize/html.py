"""The self-contained HTML report: leaderboard, CI plots, breakdowns (needle grids as heatmaps),
per-sample drill-down, two models side by side, metadata.

One file, no network: CSS, JS and SVG plots are inline. Model outputs and prompts are untrusted:
the template autoescapes everything, and the per-sample data travels as JSON inside a
``<script type="application/json">`` block (with ``<``, ``>`` and ``&`` escaped) that the page
reads with ``JSON.parse`` and shows through ``textContent`` only.
"""
from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from compass import records
from compass.records import Result
from compass.stats.intervals import detectable_difference
from compass.store import read_json
from compass.summarize import drilldown, plots
from compass.summarize.tables import Cell, Column, Table


def _safe_json(data) -> str:
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _breakdowns(columns: list[Column], datasets: list[str]) -> list[dict]:
    out = []
    models = [c.name for c in columns]
    for ds in datasets:
        cells: dict[tuple[str, str], Cell] = {}
        groups: list[str] = []
        for column in columns:
            model = column.name
            path = column.run.result(column.model, ds)
            if not path.exists():
                continue
            result = records.read_record(path, Result)
            if result.grids:  # a needle grid's cells get a heatmap (_needle_grids), not bars
                continue
            for group, b in result.breakdown.items():
                if group not in groups:
                    groups.append(group)
                cells[(group, model)] = Cell(b.value, b.ci95[0], b.ci95[1], b.n)
        if groups:
            out.append({"dataset": ds, "groups": groups, "cells": cells,
                        "svg": plots.scores_with_ci(groups, models, cells)})
    return out


def _needle_grids(columns: list[Column], datasets: list[str]) -> list[dict]:
    """Per dataset whose results carry a length × depth ``grid`` (needle): one heatmap per model."""
    out = []
    for ds in datasets:
        grids = {}
        for column in columns:
            path = column.run.result(column.model, ds)
            if path.exists():
                grid = records.read_record(path, Result).grids.get("needle")
                if grid and grid.lengths and grid.depths:
                    grids[column.name] = grid
        if grids:
            out.append({"dataset": ds, "svg": plots.needle_heatmap(grids)})
    return out


def _all_metrics(columns: list[Column], datasets: list[str]) -> list[dict]:
    """Every metric of every result beyond the leaderboard's one: pass@k, win/tie/loss rates,
    per-level accuracy, unparseable judgments... Rates show as %, counts as they are."""
    out = []
    for column in columns:
        for ds in datasets:
            path = column.run.result(column.model, ds)
            if not path.exists():
                continue
            result = records.read_record(path, Result)
            metrics = result.metrics
            if len(metrics) < 2:
                continue
            for name, value in metrics.items():
                ci = result.ci95.get(name)
                is_rate = ci is not None and 0.0 <= value <= 1.0 and name != "unparseable"
                out.append({"model": column.name, "dataset": ds, "metric": name,
                            "value": f"{100 * value:.2f}" if is_rate else f"{value:g}",
                            "ci": f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci is not None and is_rate else ""})
    return out


def _metadata(columns: list[Column], datasets: list[str]) -> dict:
    runs = list(dict.fromkeys(c.run for c in columns))
    history = []
    for run in runs:
        info_path = run.root / "configs" / "run_info.json"
        # A merged report says which run each invocation belongs to; a single run's report names
        # no directory, so a copy of the run regenerates the same bytes.
        label = f"{run.root.parent.name}/{run.root.name}" if len(runs) > 1 else ""
        # The invocations that made predictions: re-scoring or re-summarizing elsewhere (-m eval,
        # -m summarize) changes the results it wrote, never how the predictions came about, so the
        # report it regenerates is the same bytes for the same results.
        invocations = read_json(info_path) if info_path.exists() else []
        history += [{**h, "run": label} for h in invocations if "infer" in h.get("stages", {})]
    results = []
    for column in columns:
        for ds in datasets:
            path = column.run.result(column.model, ds)
            if path.exists():
                r = records.read_record(path, Result)
                results.append({"model": column.name, "dataset": ds, "config_hash": r.config_hash,
                                "model_path": r.model_path, "dataset_path": r.dataset_path, "n": r.n,
                                "timing": r.timing, "prompt_preset": r.prompt_preset or "none",
                                "prompt_hash": r.prompt_hash or "-",
                                "mdd": detectable_difference(*r.ci95[r.primary])})
    return {"history": history, "results": results, "merged": len(runs) > 1}


def _split(table: Table) -> dict | None:
    """The scores-by-contamination section: the text table's cells, and bars with intervals for the
    clean and contaminated subsets of each dataset."""
    if table.split is None or not table.split.rows:
        return None
    from compass.summarize import split

    grid = split.grid(table.split)
    names: list[str] = []
    cells: dict[tuple[str, str], Cell | None] = {}
    for r in table.split.rows:
        for label in ("clean", "contaminated"):
            s = getattr(r, label)
            name = f"{r.dataset}: {label}"
            if name not in names:
                names.append(name)
            if s.value is not None:
                cells[(name, r.model)] = Cell(s.value, s.lo, s.hi, s.n)
    return {"header": grid[0], "rows": grid[1:], "explain": split.EXPLAIN, "notes": split.notes(table.split),
            "svg": plots.scores_with_ci(names, table.models, cells)}


def render(title: str, table: Table, datasets: list[str]) -> str:
    """The report of ``table``'s columns. ``title`` names the run, or each run of a merged report
    (the heading adds the start time only for a single run)."""
    templates = Path(__file__).parent / "templates"
    env = Environment(loader=FileSystemLoader(templates),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    names = [name for name, _, _ in table.rows]
    cells = {(name, m): row[m] for name, _, row in table.rows for m in table.models}
    meta = _metadata(table.columns, datasets)
    # Times come from the run's own record, so regenerating the report elsewhere gives the same bytes.
    if not meta["merged"]:
        title += f", run started {meta['history'][0]['started'] if meta['history'] else 'unknown time'}"
    return env.get_template("report.html.j2").render(
        title=title,
        table=table,
        scores_svg=plots.scores_with_ci(names, table.models, cells) if names else "",
        breakdowns=_breakdowns(table.columns, datasets),
        split=_split(table),
        needle_grids=_needle_grids(table.columns, datasets),
        all_metrics=_all_metrics(table.columns, datasets),
        samples_json=_safe_json(drilldown.samples(table.columns, datasets)),
        meta=meta,
        script=(templates / "report.js").read_text(encoding="utf-8"),  # ours: trusted, inlined as is
    )
