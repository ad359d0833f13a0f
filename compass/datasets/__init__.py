"""Dataset loaders by the names configs use: ``DATASETS`` maps a canonical ``type`` to a function
``load(cfg) -> LoadedDataset``; ``DATASET_ALIASES`` accepts OpenCompass's class names. ``load`` applies
``reader_cfg`` (columns check, ``test_range``) on top."""
from __future__ import annotations

from collections.abc import Callable

from compass.config import DatasetConfig, parse_range
from compass.datasets import ceval, custom, gsm8k, humaneval, math_dataset, mmlu, needle, subjective
from compass.datasets.base import LoadedDataset, Sample
from compass.errors import CompassError


def _splits(cfg: DatasetConfig) -> tuple[str, str]:
    return cfg.reader_cfg.train_split, cfg.reader_cfg.test_split


# Benchmark families read their official layout from ``path``; custom and needle are defined by the config.
DATASETS: dict[str, Callable[[DatasetConfig], LoadedDataset]] = {
    "mmlu": lambda cfg: mmlu.load(cfg.path, cfg.name, *_splits(cfg)),
    "ceval": lambda cfg: ceval.load(cfg.path, cfg.name, *_splits(cfg)),
    "gsm8k": lambda cfg: gsm8k.load(cfg.path, cfg.name, *_splits(cfg)),
    "math": lambda cfg: math_dataset.load(cfg.path, cfg.name, *_splits(cfg)),
    "humaneval": lambda cfg: humaneval.load(cfg.path, cfg.name, *_splits(cfg)),
    "subjective": lambda cfg: subjective.load(cfg.path, cfg.name, *_splits(cfg)),
    "custom": custom.load_custom,
    "needle": needle.load_needle,
}
# Fields that hold or give away a sample's answer, per family (a custom dataset's: its
# reader_cfg.output_column): few-shot examples may show them, a sample's own prompt must not.
ANSWER_FIELDS: dict[str, tuple[str, ...]] = {
    "gsm8k": ("answer", "raw_answer", "solution"), "math": ("solution",), "humaneval": ("canonical_solution",),
    "ceval": ("explanation",), "subjective": ("reference",),
}
DATASET_ALIASES = {"MMLUDataset": "mmlu", "GSM8KDataset": "gsm8k", "SubjectiveDataset": "subjective",
                   "CustomDataset": "custom", "HumanevalDataset": "humaneval", "HumanEvalDataset": "humaneval",
                   "CEvalDataset": "ceval", "MATHDataset": "math", "NeedleDataset": "needle"}


def answer_fields(cfg: DatasetConfig) -> set[str]:
    """The fields of ``cfg``'s samples that a prompt showing them would give the answer away with."""
    output = cfg.reader_cfg.output_column  # the gold of a custom dataset; the families' loaders pick their own
    return {*ANSWER_FIELDS.get(cfg.type, ()), *([output] if output and cfg.type == "custom" else [])}


def load(cfg: DatasetConfig) -> LoadedDataset:
    """Load a dataset as configured, with ``reader_cfg.test_range`` applied."""
    reader = cfg.reader_cfg
    data = DATASETS[cfg.type](cfg)  # config validation made cfg.type a key of DATASETS
    for column in reader.input_columns or []:
        for sample in data.test[:1] + data.fewshot[:1]:
            if column not in sample.fields:
                raise CompassError(f"{cfg.path}: reader_cfg.input_columns names {column!r}, which the "
                                   f"{cfg.type} loader does not provide (it has: {', '.join(sample.fields)})")
    if reader.test_range:
        data.test = data.test[parse_range(reader.test_range, "test_range")]
    return data


__all__ = ["ANSWER_FIELDS", "DATASETS", "DATASET_ALIASES", "LoadedDataset", "Sample", "answer_fields", "load"]
