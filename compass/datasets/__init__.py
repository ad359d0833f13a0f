"""Dataset loaders, one module per benchmark family. ``load`` picks one by canonical type."""
from __future__ import annotations

from compass.config import DatasetConfig, parse_range
from compass.datasets.base import LoadedDataset, Sample
from compass.errors import CompassError


def load(cfg: DatasetConfig) -> LoadedDataset:
    """Load a dataset as configured, with ``reader_cfg.test_range`` applied."""
    if cfg.type == "mmlu":
        from compass.datasets import mmlu as family
    elif cfg.type == "gsm8k":
        from compass.datasets import gsm8k as family
    else:  # config validation rejects unknown types before this point
        raise ValueError(f"no loader for dataset type {cfg.type!r}")
    reader = cfg.reader_cfg
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
