"""The report's plots draw every name as typed: no math markup, no dropped legend entries, same bytes."""
from __future__ import annotations

import re
import subprocess
import sys

from compass.records import Grid
from compass.summarize import plots
from compass.summarize.tables import Cell

CELL = Cell(0.5, 0.3, 0.7, 10)


def _glyphs(svg: str) -> set[str]:
    """The glyph (and marker) outlines a plot draws: math text would bring italic or math-font ones."""
    return set(re.findall(r'<path id="([^"]+)"', svg))


def _bars(name: str, models: list[str]) -> str:
    return plots.scores_with_ci([name], models, {(name, m): CELL for m in models})


def test_names_with_dollars_are_drawn_as_typed_not_parsed_as_math():
    # Unbalanced braces: matplotlib's math parser raises on these (the crash of `compass report`).
    for name in ("$\\frac{unit$ conversion", "$x_$", "a $$ b", "\\$ $\\sqrt$"):
        assert _bars(name, [name]).startswith("<svg")
        assert plots.needle_heatmap({name: Grid([128], [0.0], [[1.0]], [[1]])}).startswith("<svg")
    # "$x^2$" drawn as math would show an italic x and a superscript 2 and no dollar sign; drawn as
    # typed, it uses exactly the glyphs of "$x^2" (one dollar sign: never math).
    assert _glyphs(_bars("$x^2$", ["m"])) == _glyphs(_bars("$x^2", ["m"]))
    assert _glyphs(_bars("$x^2$", ["$x^2$", "b"])) == _glyphs(_bars("$x^2", ["$x^2", "b"]))


def test_legend_names_every_model_and_sits_outside_the_axes():
    models = ["_base", "$\\alpha$", "c", "d"]  # matplotlib drops labels starting with "_" unless told
    names = ["ds-1", "ds-2"]
    with plots._plotting() as plt:
        fig = plots.scores_figure(plt, names, models, {(n, m): Cell(0.95, 0.7, 1.0, 5) for n in names for m in models})
        fig.draw_without_rendering()  # lays the figure out (constrained layout), as saving it does
        legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        assert len(legends) == 1
        assert [t.get_text() for t in legends[0].get_texts()] == models
        legend = legends[0].get_window_extent()
        for ax in fig.axes:  # bars at 95% with error bars to 100% fill the axes' lower right corner
            assert not legend.overlaps(ax.get_window_extent())


def test_plots_are_deterministic():
    cells = {("a", "m"): CELL, ("b", "m"): CELL, ("a", "n"): CELL}
    assert plots.scores_with_ci(["a", "b"], ["m", "n"], cells) == plots.scores_with_ci(["a", "b"], ["m", "n"], cells)
    grid = Grid([128, 1024], [0.0, 50.0], [[1.0, None], [0.0, 0.5]], [[1, 0], [1, 2]])
    assert plots.needle_heatmap({"m": grid, "n": grid}) == plots.needle_heatmap({"m": grid, "n": grid})


def test_preloading_imports_everything_the_report_draws_with():
    """``compass run`` imports the report's libraries while its workers run (``preload_report``):
    in a fresh interpreter, drawing a report afterwards imports nothing more from them."""
    code = """
import sys, threading
from compass.records import Grid
from compass.summarize import plots, preload_report
from compass.summarize.tables import Cell
preload_report()
for thread in threading.enumerate():
    if thread.name == "preload-report":
        thread.join()
before = set(sys.modules)
plots.scores_with_ci(["d"], ["m"], {("d", "m"): Cell(0.5, 0.3, 0.7, 10)})
plots.needle_heatmap({"d": Grid([128], [0.0], [[1.0]], [[1]])})
import compass.summarize.html
late = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("matplotlib", "jinja2", "compass"))
assert not late, late
"""
    proc = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_compass_run_starts_its_workers_before_importing_numpy():
    """Imports before the workers start delay every run: ``compass.pipeline`` leaves the summaries'
    numpy (~0.1 s) to the preloading thread, which imports it while the workers run."""
    code = """
import sys, threading
import compass.pipeline
assert "numpy" not in sys.modules, "numpy imported on compass run's start-up path"
from compass.summarize import preload_report
preload_report()
for thread in threading.enumerate():
    if thread.name == "preload-report":
        thread.join()
assert "compass.summarize.tables" in sys.modules and "numpy" in sys.modules
"""
    proc = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
