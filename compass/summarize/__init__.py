"""Leaderboards and the HTML report, from a run's result files."""
from __future__ import annotations

import importlib
import threading

# What the summaries and the HTML report import (tests/test_report_plots.py checks that nothing is left out).
REPORT_MODULES = ("compass.summarize.tables", "matplotlib.figure", "matplotlib.backends.backend_svg",
                  "compass.summarize.html")


def preload_report() -> None:
    """Import the summaries' and the HTML report's libraries (numpy, matplotlib, jinja2: ~0.4 s) in a
    background thread.

    ``compass run`` calls this before it waits on its workers for seconds, so that the report is
    not delayed by these imports after them. Importing is all it does: nothing is drawn."""
    threading.Thread(target=_import_report, name="preload-report", daemon=True).start()


def _import_report() -> None:
    for name in REPORT_MODULES:
        importlib.import_module(name)
