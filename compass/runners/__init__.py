"""Runners by the names configs use: each runs a list of jobs (worker command lines) to completion."""
from __future__ import annotations

from collections.abc import Callable

from compass.runners import local

RUNNERS: dict[str, Callable] = {"local": local.run_jobs}
RUNNER_ALIASES = {"LocalRunner": "local"}
