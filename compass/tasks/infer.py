"""Inference worker: ``python -m compass.tasks.infer RUN_DIR/tasks/<task>.json``.

Loads the model once and serves every dataset of the task. Predictions are appended per batch and
made durable before the next batch starts, so a killed worker loses at most the batch in flight;
on restart, finished samples are skipped and a torn last line is discarded. When nothing is left to
predict, the model is never loaded. ``logs/infer/<task>.events.jsonl`` records every batch of
sample ids sent to the model.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from compass import datasets, prompts
from compass.config import DatasetConfig
from compass.datasets.base import Sample
from compass.errors import CompassError
from compass.inferencers import INFERENCERS
from compass.plan import Task, infer_hash
from compass.store import JsonlAppender, RunDir, read_json, recover_jsonl, write_json_atomic
from compass.tasks.worker import worker_main


@dataclass
class Pending:
    dataset: DatasetConfig
    items: list[tuple[Sample, str]]  # samples still without a prediction, with their prompts
    total: int


def pending_work(task: Task, run: RunDir) -> list[Pending]:
    """Per dataset, the samples whose predictions are missing; checks old predictions still apply."""
    work = []
    for ds in task.datasets:
        where = f"dataset {ds.abbr!r}"
        data = datasets.load(ds)
        items = prompts.prompts_for(ds, data, where)
        meta_path = run.prediction_meta(task.model.abbr, ds.abbr)
        expected = infer_hash(task.model, ds)
        if meta_path.exists() and read_json(meta_path).get("infer_hash") != expected:
            raise CompassError(f"{run.predictions(task.model.abbr, ds.abbr)}: predictions were made with a different "
                               f"model or prompt config; start a new run instead of resuming this one")
        done = {row.get("id") for row in recover_jsonl(run.predictions(task.model.abbr, ds.abbr))}
        todo = [(s, p) for s, p in items if s.id not in done]
        write_json_atomic(meta_path, {"infer_hash": expected, "n": len(items), "complete": not todo})
        work.append(Pending(ds, todo, len(items)))
    return work


def run(task_file: str) -> None:
    task_path = Path(task_file)
    task = Task.from_file(task_path)
    run_dir = RunDir(task_path.parent.parent)
    work = pending_work(task, run_dir)
    remaining = sum(len(p.items) for p in work)
    print(f"[{task.id}] {remaining} samples to predict across {len(work)} datasets", file=sys.stderr, flush=True)
    if remaining == 0:
        return
    from tqdm import tqdm

    from compass import models

    model = models.build(task.model)
    events_path = run_dir.log("infer", task.id, ".events.jsonl")
    recover_jsonl(events_path)
    events = JsonlAppender(events_path)
    with tqdm(total=remaining, desc=f"infer {task.id}", file=sys.stderr, mininterval=1.0) as bar:
        for pending in work:
            _predict_dataset(task, run_dir, pending, model, events, bar)
    events.close()


def _predict_dataset(task: Task, run_dir: RunDir, pending: Pending, model, events: JsonlAppender, bar) -> None:
    ds = pending.dataset
    infer = INFERENCERS[ds.infer_cfg.inferencer.type]
    batch_size = task.model.batch_size
    if ds.infer_cfg.inferencer.type == "loglikelihood":
        # Sorted prompts put shared few-shot prefixes side by side, so the backend computes each
        # prefix once per chunk; larger chunks give it more to share.
        items, chunk = sorted(pending.items, key=lambda item: item[1]), 8 * batch_size
    else:
        # Longest first: least padding, and an out-of-memory error shows up at once.
        items, chunk = sorted(pending.items, key=lambda item: -len(item[1])), batch_size
    with JsonlAppender(run_dir.predictions(task.model.abbr, ds.abbr)) as out:
        for start in range(0, len(items), chunk):
            batch = items[start:start + chunk]
            events.append([{"dataset": ds.abbr, "ids": [s.id for s, _ in batch], "time": time.time()}])
            lines = infer(model, batch, ds.infer_cfg.inferencer, task.model.max_out_len)
            for (sample, _), line in zip(batch, lines):
                if sample.group is not None:
                    line["group"] = sample.group
            out.append(lines)
            bar.update(len(batch))
    meta = run_dir.prediction_meta(task.model.abbr, ds.abbr)
    write_json_atomic(meta, {**read_json(meta), "complete": True})


def sent_ids(events_file: Path) -> list[str]:
    """Every sample id a worker sent to the model, in order (across attempts)."""
    return [i for event in recover_jsonl(events_file) for i in event["ids"]]


if __name__ == "__main__":
    worker_main(run)
