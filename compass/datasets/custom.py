"""Your own data without code: a jsonl or csv (with a header) whose columns the config declares.

``reader_cfg.input_columns`` are the fields templates may use, ``output_column`` is the gold
answer, and optional ``id_column`` / ``group_column`` / ``cluster_column`` give sample ids, groups
(strata for breakdowns) and clusters (samples that are not independent, e.g. one passage's questions). The few-shot pool
is the ``train_split`` file if one sits beside the test file (``<stem>_<split>.<ext>`` or
``<split>.<ext>`` in a directory).
"""
from __future__ import annotations

import csv
from pathlib import Path

from compass.config import DatasetConfig
from compass.datasets.base import LoadedDataset, Sample, read_jsonl
from compass.errors import CompassError


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    if path.suffix == ".jsonl":
        return list(enumerate(read_jsonl(path, required), 1))
    if path.suffix != ".csv":
        raise CompassError(f"{path}: custom datasets are .jsonl or .csv files")
    rows = []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []  # None: an empty file, which has no rows either
            missing = [c for c in required if c not in header]
            if missing:
                raise CompassError(f"{path}:1: header has no column {missing[0]!r} (has: {', '.join(header)})")
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    raise CompassError(f"{path}:{reader.line_num}: expected {len(header)} columns")
                rows.append((reader.line_num, row))
    except UnicodeDecodeError as exc:
        raise CompassError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return rows


def _split_file(test_file: Path, split: str) -> Path | None:
    for candidate in (test_file.with_name(f"{split}{test_file.suffix}"),
                      test_file.with_name(f"{test_file.stem.rsplit('_', 1)[0]}_{split}{test_file.suffix}")):
        if candidate != test_file and candidate.is_file():
            return candidate
    return None


def _samples(path: Path, cfg: DatasetConfig, input_columns: list[str], output_column: str) -> list[Sample]:
    reader = cfg.reader_cfg
    required = tuple(dict.fromkeys([*input_columns, output_column,
                                    *(c for c in (reader.id_column, reader.group_column, reader.cluster_column) if c)]))
    samples: list[Sample] = []
    seen: set[str] = set()
    for lineno, row in _rows(path, required):
        sample_id = str(row[reader.id_column]) if reader.id_column else str(len(samples))
        if sample_id in seen:
            raise CompassError(f"{path}:{lineno}: duplicate id {sample_id!r} in column {reader.id_column!r}")
        seen.add(sample_id)
        fields = {k: "" if v is None else str(v) for k, v in row.items()}
        group = str(row[reader.group_column]) if reader.group_column else None
        cluster = str(row[reader.cluster_column]) if reader.cluster_column else None
        samples.append(Sample(sample_id, fields, str(row[output_column]), group, cluster))
    return samples


def load_custom(cfg: DatasetConfig) -> LoadedDataset:
    reader = cfg.reader_cfg
    inputs, output = reader.input_columns, reader.output_column
    if not inputs or not output:
        raise CompassError(f"dataset {cfg.abbr!r}: reader_cfg.input_columns and reader_cfg.output_column are "
                           f"required for custom datasets")
    root = Path(cfg.path)
    test_file = root / f"{reader.test_split}.jsonl" if root.is_dir() else root
    if root.is_dir() and not test_file.is_file():
        test_file = root / f"{reader.test_split}.csv"
    if not test_file.is_file():
        raise CompassError(f"{cfg.path}: no such file (custom datasets read a .jsonl or .csv file, or "
                           f"<test_split>.jsonl/.csv in a directory)")
    train_file = _split_file(test_file, reader.train_split)
    return LoadedDataset(_samples(test_file, cfg, inputs, output),
                         _samples(train_file, cfg, inputs, output) if train_file else [])
