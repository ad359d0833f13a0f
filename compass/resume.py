"""What a run has finished: whether a predictions file is complete, and its repair on resume.

A predictions file is complete when it holds one valid line for every sample of its dataset, all
made with the task's model and prompt config (``infer_hash``). That is checked from the file itself
every time (the meta file beside it only says how many samples and which ids to expect, and is
rebuilt from the dataset when damaged), so a truncated, deleted or corrupted file is never taken
for a finished one. Repair moves damaged lines to a quarantine file and keeps every valid line.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path

from compass import records
from compass.errors import CompassError
from compass.records import Damaged, Prediction, PredictionMeta, Timing
from compass.store import RunDir

log = logging.getLogger(__name__)


def ids_digest(ids: list[str]) -> str:
    return hashlib.sha256("\0".join(sorted(ids)).encode()).hexdigest()


def read_complete(run_dir: RunDir, model: str, dataset: str, infer_hash: str | None = None,
                  part: str | None = None) -> list[Prediction]:
    """The predictions of a finished dataset (or shard), or a one-line error saying what is missing."""
    path = run_dir.predictions(model, dataset, part)
    meta = records.try_read_record(run_dir.prediction_meta(model, dataset, part), PredictionMeta)
    if meta is None:
        raise CompassError(f"{path}: inference has not finished (no valid meta file); resume with compass run -r")
    if infer_hash is not None and meta.infer_hash != infer_hash:
        raise CompassError(f"{path}: made with a different model or prompt config; resume with compass run -r")
    lines = records.read_log(path, Prediction)
    if lines.damaged:
        raise CompassError(f"{path}:{lines.damaged[0].lineno}: damaged line ({lines.damaged[0].reason}); "
                           f"resume with compass run -r to repair it")
    preds: list[Prediction] = lines.records
    ids = [p.id for p in preds]
    if len(ids) != meta.n or len(set(ids)) != len(ids) or ids_digest(ids) != meta.ids_sha256 \
            or any(p.infer_hash != meta.infer_hash for p in preds):
        raise CompassError(f"{path}: holds {len(set(ids))} of the dataset's {meta.n} samples; "
                           f"resume with compass run -r to predict the rest")
    return preds


def is_complete(run_dir: RunDir, model: str, dataset: str, infer_hash: str, part: str | None = None) -> bool:
    try:
        read_complete(run_dir, model, dataset, infer_hash, part)
        return True
    except CompassError:
        return False


def check_layout(run_dir: RunDir, model: str, dataset: str, infer_hash: str, parts: list[str]) -> None:
    """A resumed run must split a dataset into the shards it started with (``parts``; none: whole).
    Under another split, the kept predictions would not be found: their samples predicted (and paid
    for) again, and shard files left beside a whole one would block the merge for good."""
    if is_complete(run_dir, model, dataset, infer_hash):
        return
    kept = run_dir.prediction_parts(model, dataset)
    whole = run_dir.predictions(model, dataset).exists()
    if set(kept) - set(parts) or (parts and whole):
        now = ", ".join(f"part-{p}" for p in parts) or "the whole dataset in one file"
        before = ", ".join(f"part-{p}" for p in kept) if kept else "the whole dataset in one file"
        raise CompassError(f"{run_dir.predictions(model, dataset)}: this run predicted it as {before}, and the "
                           f"config now splits it as {now} (the partitioner changed); resume with the partitioner "
                           f"the run started with (see {run_dir.root / 'configs'}), or start a new run")


def merge_shards(run_dir: RunDir, model: str, dataset: str, parts: list[str]) -> bool:
    """Once every shard of a dataset is complete, its predictions file: the shards' lines in shard
    order, with a meta file adding up theirs; then the shard files go. False while one is missing."""
    if run_dir.predictions(model, dataset).exists() or not parts:
        return False
    metas = [records.try_read_record(run_dir.prediction_meta(model, dataset, p), PredictionMeta) for p in parts]
    if any(m is None for m in metas) or len({m.infer_hash for m in metas if m}) != 1:
        return False
    try:
        lines = [p for part in parts for p in read_complete(run_dir, model, dataset, None, part)]
    except CompassError:
        return False
    first = metas[0]
    assert first is not None
    timings = [m.timing for m in metas if m]
    retries: Counter[str] = sum((Counter(m.retries) for m in metas if m), Counter())
    prompt, completion = sum(t.prompt_tokens for t in timings), sum(t.completion_tokens for t in timings)
    infer_s = round(sum(t.infer_s for t in timings), 3)
    timing = Timing(round(sum(t.model_load_s for t in timings), 3), infer_s, prompt, completion,
                    round((prompt + completion) / infer_s, 1) if infer_s > 0 else 0.0,
                    sum(t.cost_usd for t in timings), sum(t.reasoning_tokens for t in timings))
    records.write_lines(run_dir.predictions(model, dataset), lines)  # written once, whole; never rewritten
    records.write_record(run_dir.prediction_meta(model, dataset),
                         PredictionMeta(first.infer_hash, len(lines), ids_digest([p.id for p in lines]),
                                        dict(sorted(retries.items())), timing))
    for part in parts:
        run_dir.predictions(model, dataset, part).unlink()
        run_dir.prediction_meta(model, dataset, part).unlink()
    log.info("%s/%s: %d shards merged (%d predictions)", model, dataset, len(parts), len(lines))
    return True


def repair(path: Path, infer_hash: str, dataset: dict[str, tuple]) -> set[str]:
    """Make a predictions file hold only valid, distinct lines of this dataset; return their ids.

    ``dataset``: per sample id, what a prediction of it must repeat: ``(prompt, gold, group,
    cluster)`` as the dataset gives them now. Damaged lines, repeated ids and ids the dataset does
    not have go to the quarantine file (with their line numbers). Lines made with another model or
    prompt config, or from other data (the dataset's file was edited since), are refused: they may
    be a different run's data that a wrong resume would destroy, and mixing them with new lines
    would score some samples against the old golds and prompts."""
    lines = records.read_log(path, Prediction)
    foreign = [p for p in lines.records if p.infer_hash != infer_hash]
    if foreign:
        raise CompassError(f"{path}: {len(foreign)} prediction(s) were made with a different model or prompt config "
                           f"(infer_hash {foreign[0].infer_hash}, this config's is {infer_hash}); start a new run "
                           f"instead of resuming this one")
    stale = [p for p in lines.records if p.id in dataset and _as_stored(p) != dataset[p.id]]
    if stale:
        fields = [name for name, was, now in zip(("prompt", "gold", "group", "cluster"), _as_stored(stale[0]),
                                                 dataset[stale[0].id]) if was != now]
        raise CompassError(f"{path}: {len(stale)} prediction(s) no longer match the dataset (sample {stale[0].id!r}: "
                           f"its {' and '.join(fields)} changed since it was predicted); the data changed since this "
                           f"run started: start a new run instead of resuming this one")
    keep: list[Prediction] = []
    seen: set[str] = set()
    damaged = list(lines.damaged)
    for p in lines.records:
        why = "repeated id" if p.id in seen else None if p.id in dataset else "id not in the dataset"
        if why:
            damaged.append(Damaged(0, records.dumps(p), f"{why} {p.id!r}"))
            continue
        seen.add(p.id)
        keep.append(p)
    side = records.quarantine(path, keep, damaged)
    if side is not None:
        log.warning("%s: moved %d damaged line(s) to %s; %d valid line(s) kept", path, len(damaged), side, len(keep))
    return seen


def _as_stored(p: Prediction) -> tuple:
    return (p.prompt, p.gold, p.group, p.cluster)


def sample_fields(prompt: str, gold: object, group: str | None, cluster: str | None) -> tuple:
    """What :func:`repair` compares, as a prediction line stores it (gold through JSON: lists, not tuples)."""
    return (prompt, json.loads(json.dumps(gold)), group, cluster)
