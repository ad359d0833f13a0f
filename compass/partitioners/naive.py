"""The naive partitioner: one task per model, holding all of the datasets."""
from __future__ import annotations

from compass.config import Config
from compass.plan import Task, safe_id


def partition(cfg: Config) -> list[Task]:
    return [Task(safe_id(m.abbr), m, list(cfg.datasets)) for m in cfg.models]
