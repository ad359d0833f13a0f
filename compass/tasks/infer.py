"""Inference worker: ``python -m compass.tasks.infer RUN_DIR/tasks/<task>.json``.

Loads the model once and serves every dataset of the task. Predictions are appended (durably) per
call to the model (a batch; for a continuously batching backend, its ``generate_chunk`` prompts),
or one by one as the backend reports each prompt finished, so a killed worker loses at most the
prompts in flight.
On restart the predictions file is repaired (damaged lines quarantined, valid ones kept) and only
the samples without a valid line are sent to the model; when none is left, the model is never
loaded. ``logs/infer/<task>.events.jsonl`` records every batch of sample ids sent to the model.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compass import datasets, prompts, records, resume
from compass.config import DatasetConfig
from compass.errors import PartialResults
from compass.inferencers import INFERENCERS, Inferred
from compass.inferencers.base import Item
from compass.models.base import Model
from compass.plan import Task, infer_hash
from compass.records import Event, Prediction, PredictionMeta, Timing
from compass.store import RunDir
from compass.tasks import usage
from compass.tasks.worker import worker_main

log = logging.getLogger("compass.infer")


@dataclass
class Pending:
    dataset: DatasetConfig
    infer_hash: str
    items: list[Item]  # samples still without a prediction, with their prompts
    total: int
    part: str | None = None  # the shard's files, when the task predicts a part of the dataset


def pending_work(task: Task, run: RunDir) -> list[Pending]:
    """Per dataset, the samples whose predictions are missing, after repairing the predictions file."""
    work = []
    for ds in task.datasets:
        items = prompts.prompts_for(ds, datasets.load(ds), f"dataset {ds.abbr!r}")
        expected = infer_hash(task.model, ds)
        shard = task.shards.get(ds.abbr)
        part = shard.name if shard else None
        if shard is not None:
            if resume.is_complete(run, task.model.abbr, ds.abbr, expected):  # the shards merged already
                continue
            items = items[shard.start:shard.stop]
        ids = [s.id for s, _ in items]
        now = {s.id: resume.sample_fields(p.text, s.gold, s.group, s.cluster) for s, p in items}
        done = resume.repair(run.predictions(task.model.abbr, ds.abbr, part), expected, now)
        meta_path = run.prediction_meta(task.model.abbr, ds.abbr, part)
        old = records.try_read_record(meta_path, PredictionMeta)
        kept = old is not None and old.infer_hash == expected  # an earlier attempt's counts still count
        records.write_record(meta_path, PredictionMeta(expected, len(ids), resume.ids_digest(ids),
                                                       old.retries if kept and old else {},
                                                       old.timing if kept and old else Timing()))
        work.append(Pending(ds, expected, [(s, p) for s, p in items if s.id not in done], len(items), part))
    return work


def run(task_file: str) -> None:
    task_path = Path(task_file)
    task = Task.from_file(task_path)
    run_dir = RunDir(task_path.parent.parent)
    work = pending_work(task, run_dir)
    remaining = sum(len(p.items) for p in work)
    log.info("[%s] %d samples to predict across %d datasets", task.id, remaining, len(work))
    if remaining == 0:
        return
    from tqdm import tqdm

    from compass import models

    meter_probe = usage.Meter(run_dir, task.model, None, 0.0)
    meter_probe.check()  # a run already at its cost limit loads no model
    began = time.monotonic()
    model = models.build(task.model)
    meter = usage.Meter(run_dir, task.model, model, time.monotonic() - began)
    events_path = run_dir.log("infer", task.id, ".events.jsonl")
    with records.Appender(events_path) as events, \
            tqdm(total=remaining, desc=f"infer {task.id}", mininterval=1.0) as bar:
        for pending in work:
            if pending.items:
                _predict_dataset(task, run_dir, pending, model, events, bar, meter)


def _predict_dataset(task: Task, run_dir: RunDir, pending: Pending, model: Model, events: records.Appender,
                     bar, meter: usage.Meter) -> None:
    ds = pending.dataset
    batch_size = task.model.batch_size
    if ds.infer_cfg.inferencer.type == "loglikelihood":
        # Sorted prompts put shared few-shot prefixes side by side, so the backend computes each
        # prefix once per chunk; larger chunks give it more to share.
        items, chunk = sorted(pending.items, key=lambda item: item[1].text), 8 * batch_size
    else:
        # Longest first: least padding, and an out-of-memory error shows up at once. A backend that
        # batches continuously refills a finished row only from the prompts of the same call, so it
        # gets many batches' worth at once (``generate_chunk``).
        items = sorted(pending.items, key=lambda item: -len(item[1].text))
        chunk = getattr(model, "generate_chunk", batch_size)
    with records.Appender(run_dir.predictions(task.model.abbr, ds.abbr, pending.part)) as out:
        for start in range(0, len(items), chunk):
            batch = items[start:start + chunk]
            meter.check()  # the run's cost limit: stop before spending more
            events.append([Event(ds.abbr, [s.id for s, _ in batch], time.time())])
            meter.start()
            # A priced model's spending is recorded as each answer is kept, so a worker killed
            # mid-batch (e.g. for a stalled request) has counted what it paid for.
            spent = (lambda: meter.record(ds.abbr, pending.part)) if task.model.price_per_mtok else None
            try:
                _infer_call(task, pending, model, batch, out, bar, spent)
            finally:
                meter.record(ds.abbr, pending.part)  # what a failed call spent still counts


def _infer_call(task: Task, pending: Pending, model: Model, batch: list[Item], out: records.Appender, bar,
                spent: Callable[[], None] | None = None) -> None:
    """One call to the model. Each prediction is written as soon as the backend reports it (a
    continuously batching backend reports each prompt as it ends), so a killed worker loses only
    the prompts still in flight; the file is fsynced once, when the call ends (not per row: that
    would cost milliseconds per sample on a fast backend)."""
    ds = pending.dataset
    began = time.monotonic()
    written: set[int] = set()

    def keep(done: dict[int, Inferred], sync: bool = True) -> None:
        fresh = sorted(k for k in done if k not in written)
        seconds = time.monotonic() - began
        out.append([_prediction(batch[k], done[k], pending.infer_hash, seconds) for k in fresh], sync)
        written.update(fresh)
        bar.update(len(fresh))
        if spent is not None and fresh:
            spent()

    try:
        inferred = INFERENCERS[ds.infer_cfg.inferencer.type](model, batch, ds.infer_cfg.inferencer,
                                                             task.model.max_out_len, lambda k, v: keep({k: v}, sync=False))
    except PartialResults as partial:  # keep what finished; the task is retried for the rest
        keep(partial.done)
        log.warning("[%s] %s: %d of %d requests of a batch failed; %d kept", task.id, ds.abbr,
                    len(batch) - len(partial.done), len(batch), len(partial.done))
        raise partial.cause from None
    keep(dict(enumerate(inferred)))


def _prediction(item: Item, inferred: Inferred, infer_hash_: str, seconds: float) -> Prediction:
    sample, prompt = item
    return Prediction(sample.id, infer_hash_, prompt.text, inferred.prediction, sample.gold, sample.group,
                      sample.cluster, inferred.choice_logprobs, inferred.finish_reason,
                      inferred.completion_tokens, round(seconds, 4), question_at=prompt.question_at or None)


def sent_ids(events_file: Path) -> list[str]:
    """Every sample id a worker sent to the model, in order (across attempts)."""
    return [i for event in records.read_log(events_file, Event).records for i in event.ids]


if __name__ == "__main__":
    worker_main(run)
