"""Plots for the HTML report, as inline SVG strings (matplotlib; deterministic output).

Text is drawn as paths (matplotlib's default ``svg.fonttype``), so no name or label becomes live
markup in the page, and a fixed hash salt with no date makes the same data give the same bytes.
"""
from __future__ import annotations

import io

from compass.summarize.tables import Cell


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "compass"
    fig, ax = plt.subplots(figsize=(width, height))
    return plt, fig, ax


def _svg(plt, fig) -> str:
    out = io.StringIO()
    fig.tight_layout()
    fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = out.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG sits inside HTML
    start, end = text.find("<metadata>"), text.find("</metadata>")
    return text[:start] + text[end + len("</metadata>"):] if start >= 0 and end > start else text


def scores_with_ci(names: list[str], models: list[str], cells: dict[tuple[str, str], Cell | None]) -> str:
    """Horizontal bars, one group per dataset and one bar per model, with 95% CI error bars."""
    plt, fig, ax = _figure(7.5, 0.45 * max(1, len(names)) * max(1, len(models)) + 1.0)
    height = 0.8 / max(1, len(models))
    for m, model in enumerate(models):
        ys, values, lows, highs = [], [], [], []
        for i, name in enumerate(names):
            cell = cells.get((name, model))
            if cell is None:
                continue
            ys.append(i + m * height)
            values.append(100 * cell.value)
            lows.append(max(0.0, 100 * (cell.value - cell.lo)))
            highs.append(max(0.0, 100 * (cell.hi - cell.value)))
        ax.barh(ys, values, height=height, xerr=[lows, highs], capsize=3, label=model)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(names))], names)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (%) with 95% CI")
    if len(models) > 1:
        ax.legend(loc="lower right", fontsize="small")
    return _svg(plt, fig)
