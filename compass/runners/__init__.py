"""Runners by the names configs use: each runs a list of jobs (worker command lines) to completion
(``base.Runner``): ``local`` (subprocesses here), ``ray`` (tasks on a Ray cluster, the ``ray``
package imported only then), ``slurm`` (sbatch jobs)."""
from __future__ import annotations

from compass.runners import local, ray, slurm
from compass.runners.base import Job, Outcome, Runner

RUNNERS: dict[str, Runner] = {"local": local.run, "ray": ray.run, "slurm": slurm.run}
RUNNER_ALIASES = {"LocalRunner": "local", "RayRunner": "ray", "SlurmRunner": "slurm",
                  "SlurmSequentialRunner": "slurm"}

__all__ = ["RUNNERS", "RUNNER_ALIASES", "Job", "Outcome", "Runner"]
