"""MATH: ``{train,test}/<subject>/<n>.json``, each an object with ``problem``, ``level``, ``type``, ``solution``.

The gold answer is the last ``\\boxed{...}`` of the solution. Sample ids are ``<subject>/level<N>/<n>``
so that a prediction line alone tells its difficulty (:func:`level_of`; prediction lines carry only the
id and the group, which is the subject). ``path`` may also be a hub name (``EleutherAI/hendrycks_math``,
one config per subject). Named ``math_dataset`` so that it is never mistaken for the standard ``math``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from compass.datasets.base import LoadedDataset, Sample, hub_load, subset_names
from compass.errors import CompassError
from compass.evaluators.math.extract import extract_boxed

SUBJECTS = ("algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory",
            "prealgebra", "precalculus")
REQUIRED = ("problem", "level", "type", "solution")
# "Level ?" is kept: a few official problems carry it instead of a rating.
_LEVEL = re.compile(r"Level (\d+|\?)")


def sample_id(subject: str, level: str, n: str | int) -> str:
    return f"{subject}/level{level.split(' ', 1)[1]}/{n}"


def level_of(sample_id: str) -> str | None:
    """``"Level 3"`` from a MATH sample id ``algebra/level3/12``; None for ids of other shapes."""
    parts = sample_id.split("/")
    return f"Level {parts[1][5:]}" if len(parts) == 3 and parts[1].startswith("level") else None


def load(path: str, name: str | list[str] | None = None, train_split: str = "train",
         test_split: str = "test") -> LoadedDataset:
    root = Path(path)
    if root.is_dir():
        return LoadedDataset(_read_split(root, test_split, name, required=True),
                             _read_split(root, train_split, name, required=False))
    if root.exists():
        raise CompassError(f"{root}: expected the MATH directory (holding train/ and test/), got a file")
    return _load_hub(path, name, train_split, test_split)


def _read_split(root: Path, split: str, name, required: bool) -> list[Sample]:
    split_dir = root / split
    if not split_dir.is_dir():
        if required:
            raise CompassError(f"{split_dir}: missing MATH split directory {split!r}")
        return []  # no few-shot pool: fine for zero-shot configs
    subjects = subset_names(name) or sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    if not subjects:
        raise CompassError(f"{split_dir}: no subject directories (expected e.g. {split_dir}/algebra/1.json)")
    samples = []
    for subject in subjects:
        folder = split_dir / subject
        if not folder.is_dir():
            raise CompassError(f"{folder}: missing MATH subject directory")
        files = sorted(folder.glob("*.json"), key=_file_order)
        samples += [_sample(_read_json(f), subject, f.stem, str(f)) for f in files]
    return samples


def _file_order(path: Path) -> tuple:
    # Numeric order (2.json before 10.json): few-shot positions then follow the official numbering.
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def _read_json(path: Path) -> dict:
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CompassError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise CompassError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise CompassError(f"{path}: expected a JSON object, got {type(row).__name__}")
    return row


def _sample(row: dict, subject: str, n: str | int, where: str) -> Sample:
    for key in REQUIRED:
        if key not in row:
            raise CompassError(f"{where}: missing field {key!r}")
    level = str(row["level"]).strip()
    if not _LEVEL.fullmatch(level):
        raise CompassError(f"{where}: field 'level' is {row['level']!r}, expected 'Level 1' .. 'Level 5'")
    solution = str(row["solution"])
    gold = extract_boxed(solution)
    if not gold:
        raise CompassError(f"{where}: field 'solution' has no \\boxed{{...}} final answer")
    fields = {"problem": str(row["problem"]), "solution": solution, "level": level, "type": str(row["type"])}
    return Sample(sample_id(subject, level, n), fields, gold, subject)


def _load_hub(path: str, name, train_split: str, test_split: str) -> LoadedDataset:
    test: list[Sample] = []
    fewshot: list[Sample] = []
    for subject in subset_names(name) or list(SUBJECTS):
        ds = hub_load(path, subject, "MATH directory")
        for split, out in ((test_split, test), (train_split, fewshot)):
            if split in ds:
                out += [_sample(dict(row), subject, i, f"{path}[{subject}/{split}] row {i + 1}")
                        for i, row in enumerate(ds[split])]
            elif split == test_split:
                raise CompassError(f"{path}[{subject}]: no split {split!r} (has: {', '.join(ds)})")
    return LoadedDataset(test, fewshot)
