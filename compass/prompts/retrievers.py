"""Few-shot retrievers: which examples from the few-shot pool precede each test sample."""
from __future__ import annotations

import random

from compass.config import RetrieverCfg
from compass.datasets.base import Sample
from compass.errors import CompassError


def select_shots(cfg: RetrieverCfg, sample: Sample, pool: list[Sample], where: str) -> list[Sample]:
    """Examples for ``sample``: from its own group (e.g. MMLU subject) when the pool has groups."""
    if cfg.type == "zero" or cfg.k == 0:
        return []
    candidates = [s for s in pool if s.group == sample.group] if sample.group is not None else pool
    if cfg.type == "fixed":
        ids = cfg.fix_id_list if cfg.fix_id_list is not None else list(range(cfg.k))
        if ids and max(ids) >= len(candidates):
            raise CompassError(f"{where}: fix_id_list needs {max(ids) + 1} few-shot examples"
                               f"{f' in group {sample.group!r}' if sample.group else ''}, the pool has {len(candidates)}")
        return [candidates[i] for i in ids]
    if cfg.k > len(candidates):
        raise CompassError(f"{where}: k={cfg.k} few-shot examples asked, the pool has {len(candidates)}")
    # Seeded by sample id, so a sample's shots do not depend on which other samples are in the run.
    rng = random.Random(f"{cfg.seed}:{sample.id}")
    return rng.sample(candidates, cfg.k)
