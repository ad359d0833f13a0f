"""Plots for the HTML report, as inline SVG strings (matplotlib; deterministic output).

Names in plots are untrusted text: every figure is drawn with math text and TeX off, so ``$x$``
or ``\\frac`` in a model, dataset or group name is drawn as typed instead of parsed (a parse error
would crash ``compass report``). Text is drawn as paths, so no name becomes live markup in the
page, and a fixed hash salt with no date makes the same data give the same bytes.
"""
from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from compass.records import Grid
from compass.summarize.tables import Cell


class _Figures:
    """The little of pyplot the figures use, on matplotlib's ``Figure`` alone: importing pyplot
    (its backend and GUI machinery) costs about half a second in every run that writes a report."""

    @staticmethod
    def subplots(*args: Any, figsize: tuple[float, float], layout: Any = None, **kwargs: Any) -> Any:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout=layout)
        return fig, fig.subplots(*args, **kwargs)

    @staticmethod
    def get_cmap(name: str) -> Any:
        import matplotlib

        return matplotlib.colormaps[name]


@contextmanager
def _plotting() -> Iterator[Any]:
    """Figures under the report's style; they must be built and saved inside the block, since
    matplotlib reads these settings when it creates each text (tick labels only when drawing)."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False, "svg.fonttype": "path",
                                "svg.hashsalt": "compass"}):
        yield _Figures


def _svg(fig: Any) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    text = out.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG sits inside HTML
    start, end = text.find("<metadata>"), text.find("</metadata>")
    return text[:start] + text[end + len("</metadata>"):] if start >= 0 and end > start else text


def scores_figure(plt: Any, names: list[str], models: list[str], cells: Mapping[tuple[str, str], Cell | None]) -> Any:
    """Horizontal bars, one group per dataset and one bar per model, with 95% CI error bars; the
    legend sits below the axes, where it cannot cover a bar or an error bar."""
    rows = max(1, len(names)) * max(1, len(models))
    legend_rows = math.ceil(len(models) / 3) if len(models) > 1 else 0
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * rows + 1.0 + 0.3 * legend_rows), layout="constrained")
    height = 0.8 / max(1, len(models))
    handles = []
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
        handles.append(ax.barh(ys, values, height=height, xerr=[lows, highs], capsize=3))
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(names))], names)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (%) with 95% CI")
    if legend_rows:
        # Labels given explicitly: matplotlib would silently drop a model whose name starts with "_".
        fig.legend(handles, models, loc="outside lower center", ncols=min(3, len(models)), fontsize="small")
    return fig


def scores_with_ci(names: list[str], models: list[str], cells: Mapping[tuple[str, str], Cell | None]) -> str:
    with _plotting() as plt:
        return _svg(scores_figure(plt, names, models, cells))


def _tokens_label(n: int) -> str:
    return f"{n / 1000:.3g}k" if n >= 1000 else str(n)


def needle_heatmap(grids: dict[str, Grid]) -> str:
    """One heatmap per model of a needle grid: context length (x) × needle depth (y), score in %."""
    import numpy as np

    models = list(grids)
    ncols = min(3, len(models))
    nrows = math.ceil(len(models) / ncols)
    first = grids[models[0]]
    width = max(3.5, 0.55 * len(first.lengths) + 2.0)
    height = max(2.8, 0.3 * len(first.depths) + 1.6)
    with _plotting() as plt:
        fig, axes = plt.subplots(nrows, ncols, squeeze=False, figsize=(width * ncols, height * nrows),
                                 layout="constrained")
        axes = axes.flatten()
        for ax, model in zip(axes, models):
            grid = grids[model]
            # Rows of the stored grid are lengths; the plot puts depth down the y axis, as is customary.
            scores = np.array([[np.nan if v is None else 100 * v for v in row] for row in grid.score]).T
            cmap = plt.get_cmap("RdYlGn").with_extremes(bad="#dddddd")  # grey: a cell without samples
            image = ax.imshow(scores, cmap=cmap, vmin=0, vmax=100, aspect="auto", interpolation="nearest")
            for (i, j), value in np.ndenumerate(scores):
                dark = not np.isnan(value) and (value < 20 or value > 85)  # the colour map's dark ends
                ax.text(j, i, "-" if np.isnan(value) else f"{value:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
            ax.set_xticks(range(len(grid.lengths)), [_tokens_label(n) for n in grid.lengths], fontsize=8)
            ax.set_yticks(range(len(grid.depths)), [f"{d:g}" for d in grid.depths], fontsize=8)
            ax.set_xlabel("context length (tokens)")
            ax.set_ylabel("needle depth (%)")
            ax.set_title(model, fontsize=10)
            fig.colorbar(image, ax=ax, label="score (%)")
        for ax in axes[len(models):]:
            ax.set_visible(False)
        return _svg(fig)
