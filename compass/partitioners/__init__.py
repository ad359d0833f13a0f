"""Partitioners by the names configs use: each splits a config's models × datasets into tasks."""
from __future__ import annotations

from collections.abc import Callable

from compass.partitioners import naive

PARTITIONERS: dict[str, Callable] = {"naive": naive.partition}
PARTITIONER_ALIASES = {"NaivePartitioner": "naive"}
