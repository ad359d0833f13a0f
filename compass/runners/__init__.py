"""Runners by the names configs use: each runs a list of jobs (worker command lines) to completion
(``base.Runner``)."""
from __future__ import annotations

from compass.runners import local
from compass.runners.base import Job, Outcome, Runner

RUNNERS: dict[str, Runner] = {"local": local.run}
RUNNER_ALIASES = {"LocalRunner": "local"}

__all__ = ["RUNNERS", "RUNNER_ALIASES", "Job", "Outcome", "Runner"]
