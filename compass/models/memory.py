"""Out of device memory: split the batch instead of failing the run."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")
log = logging.getLogger(__name__)


def halving_on_oom(batch: list, run: Callable[[list], T], shrink: Callable[[int], None], what: str) -> list[T]:
    """``[run(batch)]``; on a CUDA out-of-memory error, the results of running each half (again
    halving as needed). ``shrink(n)`` records the size that worked so later batches start there:
    the probe for the largest batch that fits, paid once per run."""
    try:
        return [run(batch)]
    except torch.OutOfMemoryError:
        if len(batch) == 1:
            raise
        half = len(batch) // 2
        shrink(half)
        log.warning("compass: %s %d rows at once ran out of device memory; continuing with at most %d",
                    what, len(batch), half)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return halving_on_oom(batch[:half], run, shrink, what) + halving_on_oom(batch[half:], run, shrink, what)
