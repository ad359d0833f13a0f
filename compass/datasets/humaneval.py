"""HumanEval: jsonl rows with ``task_id``, ``prompt``, ``canonical_solution``, ``test``, ``entry_point``.

``path`` is the official ``HumanEval.jsonl`` (or ``.jsonl.gz``), a directory holding one, or a hub
name (``openai/openai_humaneval``). Samples get the fields ``prompt``, ``entry_point`` and
``canonical_solution`` (what contamination checks look for as the answer; no preset prompt shows it)
and the task id as their id. The gold is what the code evaluator needs to check a completion: the original
prompt (templates may wrap it), the test code defining ``check(candidate)``, and the entry point.
"""
from __future__ import annotations

from pathlib import Path

from compass.datasets.base import LoadedDataset, Sample, hub_load
from compass.errors import CompassError
from compass.records import iter_json_lines

FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")
FILE_NAMES = ("HumanEval.jsonl", "HumanEval.jsonl.gz", "test.jsonl", "test.jsonl.gz")


def _sample(row, where: str) -> Sample:
    if not isinstance(row, dict):
        raise CompassError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in FIELDS:
        if key not in row:
            raise CompassError(f"{where}: missing field {key!r}")
        if not isinstance(row[key], str):
            raise CompassError(f"{where}: field {key!r} must be a string, got {type(row[key]).__name__}")
    entry = row["entry_point"]
    if not entry.isidentifier():
        raise CompassError(f"{where}: field 'entry_point' {entry!r} is not a Python identifier")
    if "def check(" not in row["test"]:
        raise CompassError(f"{where}: field 'test' does not define check(candidate)")
    gold = {"prompt": row["prompt"], "test": row["test"], "entry_point": entry}
    fields = {"prompt": row["prompt"], "entry_point": entry, "canonical_solution": row["canonical_solution"]}
    return Sample(row["task_id"], fields, gold)


def _unique(samples: list[Sample], wheres: list[str]) -> list[Sample]:
    seen: set[str] = set()
    for sample, where in zip(samples, wheres):
        if sample.id in seen:
            raise CompassError(f"{where}: duplicate task_id {sample.id!r}")
        seen.add(sample.id)
    return samples


def load_file(path: Path) -> list[Sample]:
    """The tasks of one HumanEval jsonl file; a bad line is a one-line error naming file and line."""
    samples, wheres = [], []
    for lineno, row in iter_json_lines(path):
        where = f"{path}:{lineno}"
        samples.append(_sample(row, where))
        wheres.append(where)
    if not samples:
        raise CompassError(f"{path}: no HumanEval tasks in this file")
    return _unique(samples, wheres)


def load(path: str, name=None, train_split: str = "train", test_split: str = "test") -> LoadedDataset:
    root = Path(path)
    if root.is_file():
        return LoadedDataset(load_file(root))
    if root.is_dir():
        for file_name in FILE_NAMES:
            if (root / file_name).is_file():
                return LoadedDataset(load_file(root / file_name))
        raise CompassError(f"{root}: no HumanEval file here (looked for {', '.join(FILE_NAMES)})")
    ds = hub_load(path, name, "HumanEval file or directory")
    if test_split not in ds:
        raise CompassError(f"{path}: no split {test_split!r} on the hub (it has: {', '.join(ds)})")
    rows = list(ds[test_split])
    wheres = [f"{path}[{test_split}] row {i + 1}" for i in range(len(rows))]
    return LoadedDataset(_unique([_sample(r, w) for r, w in zip(rows, wheres)], wheres))
