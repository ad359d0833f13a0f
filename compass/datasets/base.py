"""What every dataset loader returns: samples with template fields and a gold answer."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from compass.errors import CompassError
from compass.records import iter_json_lines


@dataclass(frozen=True)
class Sample:
    id: str  # stable within the dataset; used to resume and to compare runs sample by sample
    fields: dict[str, str]  # the columns prompt templates may use
    gold: str | dict | list  # dict: HumanEval's tests and entry point; list: several needles
    group: str | None = None  # e.g. MMLU subject: few-shot examples and CIs respect it
    cluster: str | None = None  # samples sharing one are not independent (e.g. one passage): the gate clusters by it


@dataclass
class LoadedDataset:
    test: list[Sample]
    fewshot: list[Sample] = field(default_factory=list)  # the pool retrievers draw examples from


def subset_names(name: str | list[str] | None) -> list[str]:
    """A config's ``name`` (one subset, several, or None for all) as a list; empty means all."""
    if name is None:
        return []
    return [name] if isinstance(name, str) else list(name)


def load_subject_csvs(data: Path, name, train_split: str, test_split: str, read_csv, family: str) -> LoadedDataset:
    """Benchmarks laid out as ``<split>/<subject>_<split>.csv`` (MMLU, C-Eval): the test split of
    each subject, and its few-shot split, read by the family's own ``read_csv(path, subject)``."""
    test_dir = data / test_split
    if not test_dir.is_dir():
        raise CompassError(f"{test_dir}: missing {family} split directory {test_split!r}")
    suffix = f"_{test_split}.csv"
    subjects = subset_names(name) or sorted(p.name[: -len(suffix)] for p in test_dir.glob(f"*{suffix}"))
    if not subjects:
        raise CompassError(f"{test_dir}: no *{suffix} files found")
    test, fewshot = [], []
    for subject in subjects:
        test += read_csv(data / test_split / f"{subject}{suffix}", subject)
        fewshot += read_csv(data / train_split / f"{subject}_{train_split}.csv", subject)
    return LoadedDataset(test, fewshot)


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    """Rows of a jsonl file; a broken line or a missing field is a one-line error naming the line."""
    rows = []
    for lineno, row in iter_json_lines(path):
        if not isinstance(row, dict):
            raise CompassError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        for key in required:
            if key not in row:
                raise CompassError(f"{path}:{lineno}: missing field {key!r}")
        rows.append(row)
    return rows


def hub_load(path: str, name: str | None, what: str):
    """Load a dataset by hub name with ``datasets``; any failure becomes one clear line."""
    if path.startswith((".", "/", "~")) or path.count("/") > 1:  # a path, never a hub id (org/name)
        raise CompassError(f"{path}: no such {what} (relative paths are read from the current directory, "
                           f"{Path.cwd()})")
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a dependency
        raise CompassError(f"{path}: not a local path, and the 'datasets' package is not installed") from None
    try:
        return datasets.load_dataset(path, name)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CompassError(
            f"{path}: not a local {what} and not loadable from the Hugging Face hub ({reason[:160]}); relative "
            f"paths are read from the current directory, {Path.cwd()}") from None
