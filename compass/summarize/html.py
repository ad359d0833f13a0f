"""The self-contained HTML report: leaderboard, CI plots, breakdowns (needle grids as heatmaps),
per-sample drill-down, metadata.

One file, no network: CSS, JS and SVG plots are inline. Model outputs and prompts are untrusted:
the template autoescapes everything, and the per-sample data travels as JSON inside a
``<script type="application/json">`` block (with ``<``, ``>`` and ``&`` escaped) that the page
reads with ``JSON.parse`` and shows through ``textContent`` only.
"""
from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from compass.store import read_json, recover_jsonl
from compass.summarize import plots
from compass.summarize.tables import Cell, Column, Table

MAX_SAMPLES = 2000  # per model and dataset in the drill-down; the jsonl files hold them all
MAX_TEXT = 6000  # characters of a prompt or prediction shown


def _clip(text) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f" … [{len(text) - MAX_TEXT} more characters]"


def _samples(columns: list[Column], datasets: list[str]) -> dict[str, dict]:
    out = {}
    for column in columns:
        model = column.name
        for ds in datasets:
            rows = recover_jsonl(column.run.predictions(column.model, ds))
            if not rows:
                continue
            # Failures first, so a truncated drill-down still shows what went wrong.
            rows.sort(key=lambda r: bool(r.get("correct")))
            out[f"{model} / {ds}"] = {
                "total": len(rows),
                "rows": [{"id": str(r.get("id")), "prompt": _clip(r.get("prompt")),
                          "prediction": _clip(r.get("prediction")), "extracted": _clip(r.get("extracted")),
                          "gold": _clip(r.get("gold")), "correct": r.get("correct")} for r in rows[:MAX_SAMPLES]],
            }
    return out


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
            result = read_json(path)
            if "grid" in result:  # a needle grid's cells get a heatmap (_needle_grids), not bars
                continue
            primary = result.get("primary", "accuracy")
            for group, b in result.get("breakdown", {}).items():
                if group not in groups:
                    groups.append(group)
                cells[(group, model)] = Cell(b[primary], b["ci95"][0], b["ci95"][1], b["n"])
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
                grid = read_json(path).get("grid")
                if grid and grid.get("lengths") and grid.get("depths"):
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
            result = read_json(path)
            metrics = result.get("metrics", {})
            if len(metrics) < 2:
                continue
            for name, value in metrics.items():
                ci = result.get("ci95", {}).get(name)
                is_rate = isinstance(value, (int, float)) and 0.0 <= value <= 1.0 and ci is not None
                out.append({"model": column.name, "dataset": ds, "metric": name,
                            "value": f"{100 * value:.2f}" if is_rate else str(value),
                            "ci": f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if is_rate else ""})
    return out


def _metadata(columns: list[Column], datasets: list[str]) -> dict:
    history = []
    for run in dict.fromkeys(c.run for c in columns):
        info_path = run.root / "configs" / "run_info.json"
        history += read_json(info_path) if info_path.exists() else []
    results = []
    for column in columns:
        for ds in datasets:
            path = column.run.result(column.model, ds)
            if path.exists():
                r = read_json(path)
                results.append({"model": column.name, "dataset": ds, "config_hash": r.get("config_hash"),
                                "model_path": r.get("model_path"), "dataset_path": r.get("dataset_path"),
                                "n": r.get("n")})
    return {"history": history, "results": results}


def render(title: str, table: Table, datasets: list[str]) -> str:
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    names = [name for name, _, _ in table.rows]
    cells = {(name, m): row[m] for name, _, row in table.rows for m in table.models}
    meta = _metadata(table.columns, datasets)
    # Times come from the run's own record, so regenerating the report elsewhere gives the same bytes.
    started = meta["history"][0]["started"] if meta["history"] else "unknown time"
    return env.get_template("report.html.j2").render(
        title=f"{title}, run started {started}",
        table=table,
        scores_svg=plots.scores_with_ci(names, table.models, cells) if names else "",
        breakdowns=_breakdowns(table.columns, datasets),
        needle_grids=_needle_grids(table.columns, datasets),
        all_metrics=_all_metrics(table.columns, datasets),
        samples_json=_safe_json(_samples(table.columns, datasets)),
        meta=meta,
    )
