"""The naive partitioner: one task per model, holding all of its datasets, so the weights load
once; ``n`` splits a model's datasets into tasks of at most n (e.g. to spread them over workers)."""
from __future__ import annotations

from compass.config import Config
from compass.plan import Task, safe_id


def partition(cfg: Config) -> list[Task]:
    n = cfg.partitioner.n or len(cfg.datasets)
    tasks = []
    for m in cfg.models:
        chunks = [list(cfg.datasets[i:i + n]) for i in range(0, len(cfg.datasets), n)]
        for k, chunk in enumerate(chunks):
            name = m.abbr if len(chunks) == 1 else f"{m.abbr}-part{k}"
            tasks.append(Task(safe_id(name), m, chunk))
    return tasks
