"""Partitioners by the names configs use: each splits a config's models × datasets into tasks."""
from __future__ import annotations

from collections.abc import Callable

from compass.config import Config
from compass.partitioners import naive, size
from compass.plan import Task

PARTITIONERS: dict[str, Callable[[Config], list[Task]]] = {
    "naive": naive.partition, "size": size.size_partition, "num_worker": size.num_worker_partition}
PARTITIONER_ALIASES = {"NaivePartitioner": "naive", "SizePartitioner": "size", "NumWorkerPartitioner": "num_worker"}
