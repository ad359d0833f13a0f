"""Finding and reading the labels ``compass contamination`` wrote, for the stages that split scores by
them (summaries, ``compass gate --clean-only``).

A run finds its labels in the directory given (``contamination = "DIR"`` in the config, ``compass run
--contamination DIR``, ``compass report|gate --contamination DIR``), else in
``WORK_DIR/<config name>/contamination/``, where ``compass contamination`` writes by default: the
sibling of the run's timestamped directory.
"""
from __future__ import annotations

from pathlib import Path

from compass import records
from compass.errors import CompassError
from compass.records import ContaminationLabel

LABELS = ("clean", "partial", "contaminated")


def labels_dir(run_root: Path, given: str | Path | None) -> Path | None:
    """The directory of labels for the run at ``run_root``: ``given`` when set (it must exist), else
    the default one beside the run, when it holds any label file."""
    if given is not None:
        if not Path(given).is_dir():
            raise CompassError(f"contamination labels: {given}: not a directory (write one with `compass contamination`)")
        return Path(given)
    default = run_root.parent / "contamination"
    return default if default.is_dir() and any(default.glob("*.jsonl")) else None


def label_file(directory: Path, dataset: str) -> Path:
    return directory / f"{dataset}.jsonl"


def read_labels(directory: Path, dataset: str) -> dict[str, ContaminationLabel] | None:
    """Sample id -> label for one dataset; None when the directory holds no labels for it."""
    path = label_file(directory, dataset)
    if not path.is_file():
        return None
    return {r.id: r for r in records.read_lines(path, ContaminationLabel)}
