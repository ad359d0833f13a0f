"""What a run has finished: whether a predictions file is complete, and its repair on resume.

A predictions file is complete when it holds one valid line for every sample of its dataset, all
made with the task's model and prompt config (``infer_hash``). That is checked from the file itself
every time (the meta file beside it only says how many samples and which ids to expect, and is
rebuilt from the dataset when damaged), so a truncated, deleted or corrupted file is never taken
for a finished one. Repair moves damaged lines to a quarantine file and keeps every valid line.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from compass import records
from compass.errors import CompassError
from compass.records import Damaged, Prediction, PredictionMeta
from compass.store import RunDir

log = logging.getLogger(__name__)


def ids_digest(ids: list[str]) -> str:
    return hashlib.sha256("\0".join(sorted(ids)).encode()).hexdigest()


def read_complete(run_dir: RunDir, model: str, dataset: str, infer_hash: str | None = None) -> list[Prediction]:
    """The predictions of a finished dataset, or a one-line error saying what is missing."""
    path = run_dir.predictions(model, dataset)
    meta = records.try_read_record(run_dir.prediction_meta(model, dataset), PredictionMeta)
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


def is_complete(run_dir: RunDir, model: str, dataset: str, infer_hash: str) -> bool:
    try:
        read_complete(run_dir, model, dataset, infer_hash)
        return True
    except CompassError:
        return False


def repair(path: Path, infer_hash: str, dataset_ids: set[str]) -> set[str]:
    """Make a predictions file hold only valid, distinct lines of this dataset; return their ids.

    Damaged lines, repeated ids and ids the dataset does not have go to the quarantine file (with
    their line numbers); lines made with another model or prompt config are refused, since they
    may be a different run's data that a wrong resume would destroy."""
    lines = records.read_log(path, Prediction)
    foreign = [p for p in lines.records if p.infer_hash != infer_hash]
    if foreign:
        raise CompassError(f"{path}: {len(foreign)} prediction(s) were made with a different model or prompt config "
                           f"(infer_hash {foreign[0].infer_hash}, this config's is {infer_hash}); start a new run "
                           f"instead of resuming this one")
    keep: list[Prediction] = []
    seen: set[str] = set()
    damaged = list(lines.damaged)
    for p in lines.records:
        why = "repeated id" if p.id in seen else None if p.id in dataset_ids else "id not in the dataset"
        if why:
            damaged.append(Damaged(0, records.dumps(p), f"{why} {p.id!r}"))
            continue
        seen.add(p.id)
        keep.append(p)
    side = records.quarantine(path, keep, damaged)
    if side is not None:
        log.warning("%s: moved %d damaged line(s) to %s; %d valid line(s) kept", path, len(damaged), side, len(keep))
    return seen
