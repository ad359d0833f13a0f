"""Dataset loaders, one module per benchmark family. ``load`` picks one by canonical type."""
from __future__ import annotations

import importlib

from compass.config import DatasetConfig, parse_range
from compass.datasets.base import LoadedDataset, Sample
from compass.errors import CompassError


# Canonical dataset type (see compass.config.DATASET_TYPES) -> the module with its ``load``.
FAMILIES = {"mmlu": "compass.datasets.mmlu", "gsm8k": "compass.datasets.gsm8k",
            "subjective": "compass.datasets.subjective",
            "humaneval": "compass.datasets.humaneval",
            "ceval": "compass.datasets.ceval", "math": "compass.datasets.math_dataset"}


def load(cfg: DatasetConfig) -> LoadedDataset:
    """Load a dataset as configured, with ``reader_cfg.test_range`` applied."""
    reader = cfg.reader_cfg
    if cfg.type == "custom":  # defined by the config's columns rather than by a benchmark's layout
        from compass.datasets.custom import load_custom

        data = load_custom(cfg)
    elif cfg.type == "needle":  # generated from needle_cfg's grid and tokenizer, not read from a layout
        from compass.datasets.needle import load_needle

        data = load_needle(cfg)
    else:
        family = importlib.import_module(FAMILIES[cfg.type])  # config validation rejects unknown types
        data = family.load(cfg.path, cfg.name, reader.train_split, reader.test_split)
    for column in reader.input_columns or []:
        for sample in data.test[:1] + data.fewshot[:1]:
            if column not in sample.fields:
                raise CompassError(f"{cfg.path}: reader_cfg.input_columns names {column!r}, which the "
                                   f"{cfg.type} loader does not provide (it has: {', '.join(sample.fields)})")
    if reader.test_range:
        data.test = data.test[parse_range(reader.test_range, "test_range")]
    return data


__all__ = ["LoadedDataset", "Sample", "load"]
