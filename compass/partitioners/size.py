"""Cost-based partitioners: tasks of bounded cost, in tokens (see ``cost.py``), never guessed from a
dataset's name.

- ``size`` (``SizePartitioner``, ``max_task_size``): a dataset costing more than the limit is split
  into shards (contiguous sample ranges) of at most that cost; smaller datasets and shards are packed
  into tasks up to the limit, in config order. A model loads once per task.
- ``num_worker`` (``NumWorkerPartitioner``, ``num_worker``): each model's samples in that many tasks of
  about equal cost, e.g. one per GPU.
"""
from __future__ import annotations

from compass.config import Config, DatasetConfig, ModelConfig
from compass.partitioners.cost import counter_for, sample_costs
from compass.plan import Shard, Task, safe_id

Piece = tuple[DatasetConfig, Shard, int]  # a dataset's samples [start, stop) and their cost


def size_partition(cfg: Config) -> list[Task]:
    limit = cfg.partitioner.max_task_size
    assert limit is not None  # config validation requires it
    return [t for m in cfg.models for t in _tasks(m, _pieces(cfg, m, lambda total: limit), limit)]


def num_worker_partition(cfg: Config) -> list[Task]:
    """Each model's samples, datasets in config order, cut into ``num_worker`` runs of about equal
    cost; a run may end one dataset and start the next (a task holds a shard of each)."""
    workers = cfg.partitioner.num_worker
    assert workers is not None  # config validation requires it
    tasks = []
    for m in cfg.models:
        costs = _costs(cfg, m)
        flat = [(ds, i, c) for ds in cfg.datasets for i, c in enumerate(costs[ds.abbr])]
        total = sum(c for _, _, c in flat)
        groups: list[list[tuple[DatasetConfig, int, int]]] = [[] for _ in range(min(workers, len(flat)))]
        spent = 0
        for sample in flat:  # a sample goes to the run its cost midpoint falls in
            k = min(len(groups) - 1, int((spent + sample[2] / 2) * len(groups) / total)) if total else 0
            groups[k].append(sample)
            spent += sample[2]
        pieces: list[list[Piece]] = []
        for group in groups:
            by_dataset: dict[str, list[tuple[DatasetConfig, int, int]]] = {}
            for sample in group:
                by_dataset.setdefault(sample[0].abbr, []).append(sample)
            pieces.append([(s[0][0], Shard(s[0][1], s[-1][1] + 1), sum(c for _, _, c in s)) for s in by_dataset.values()])
        split = {ds.abbr for run in pieces for ds, shard, _ in run
                 if (shard.start, shard.stop) != (0, len(costs[ds.abbr]))}
        for k, run in enumerate(p for p in pieces if p):
            name = m.abbr if workers == 1 else f"{m.abbr}-part{k}"
            tasks.append(Task(safe_id(name), m, [ds for ds, _, _ in run],
                              {ds.abbr: shard for ds, shard, _ in run if ds.abbr in split},
                              sum(c for _, _, c in run)))
    return tasks


def _costs(cfg: Config, model: ModelConfig) -> dict[str, list[int]]:
    count = counter_for(model)
    return {ds.abbr: sample_costs(model, ds, count) for ds in cfg.datasets}


def _pieces(cfg: Config, model: ModelConfig, limit_of) -> list[Piece]:
    costs = _costs(cfg, model)
    return _split(cfg, costs, limit_of(sum(sum(c) for c in costs.values())))


def _split(cfg: Config, costs: dict[str, list[int]], limit: int) -> list[Piece]:
    """Each dataset whole if it fits in ``limit``, else contiguous shards that each fit (a single
    sample over the limit gets a shard of its own)."""
    pieces: list[Piece] = []
    for ds in cfg.datasets:
        sample = costs[ds.abbr]
        start, total = 0, 0
        for i, c in enumerate(sample):
            if total and total + c > limit:
                pieces.append((ds, Shard(start, i), total))
                start, total = i, 0
            total += c
        if sample:
            pieces.append((ds, Shard(start, len(sample)), total))
    return pieces


def _tasks(model: ModelConfig, pieces: list[Piece], limit: int) -> list[Task]:
    """Pieces packed into tasks of at most ``limit``, in order; a dataset split into several pieces
    keeps them as shards, a whole one is a plain dataset of its task."""
    whole = {ds.abbr for ds, shard, _ in pieces if sum(1 for d, _, _ in pieces if d.abbr == ds.abbr) == 1}
    groups: list[list[Piece]] = []
    for piece in pieces:
        if groups and sum(c for _, _, c in groups[-1]) + piece[2] <= limit and \
                piece[0].abbr not in {d.abbr for d, _, _ in groups[-1]}:
            groups[-1].append(piece)
        else:
            groups.append([piece])
    tasks = []
    for k, group in enumerate(groups):
        name = model.abbr if len(groups) == 1 else f"{model.abbr}-part{k}"
        shards = {ds.abbr: shard for ds, shard, _ in group if ds.abbr not in whole}
        tasks.append(Task(safe_id(name), model, [ds for ds, _, _ in group], shards, sum(c for _, _, c in group)))
    return tasks
