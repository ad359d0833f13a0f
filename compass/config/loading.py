"""Read an evaluation config file (an OpenCompass-shaped Python file, ``read_base()`` imports) into a
frozen :class:`~compass.config.schema.Config`; every problem is one line naming the file and key."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from compass.config.overrides import apply_overrides
from compass.config.pyfile import read_python_config
from compass.config.schema import Config, DatasetConfig, ModelConfig, PartitionerCfg, RunnerCfg, StageCfg, SummarizerCfg
from compass.errors import CompassError
from compass.schema import from_dict

TOP_LEVEL = {"models", "datasets", "summarizer", "work_dir", "infer", "eval", "contamination"}


def near_miss(name: str, key: str) -> bool:
    """A typo of ``key``: one edit away (a letter added, dropped, changed or two swapped), two for long keys."""
    a, b = name.lower(), key.lower()
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)] <= (2 if len(key) >= 8 else 1)


def plan_baseline(ds: DatasetConfig, models: list[ModelConfig], where: str) -> DatasetConfig:
    """A pairwise judge's baseline answers come from this same run, so the baseline is one of its
    models; its thinking settings go into the evaluator, as an evaluation task holds only the model
    it evaluates and the baseline's answers must be read as that model's own are."""
    evaluator = ds.eval_cfg.evaluator
    if evaluator.baseline is None:
        return ds
    model = next((m for m in models if m.abbr == evaluator.baseline), None)
    if model is None:
        raise CompassError(f"{where}.baseline: {evaluator.baseline!r} is not a model of this config "
                           f"(models: {', '.join(m.abbr for m in models)})")
    if evaluator.baseline_thinking not in (None, model.thinking):
        raise CompassError(f"{where}.baseline_thinking: set from the baseline model's think_tags and think_open; "
                           f"leave it out")
    return replace(ds, eval_cfg=replace(ds.eval_cfg, evaluator=replace(evaluator, baseline_thinking=model.thinking)))


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Read a config file, then apply ``--cfg-options`` overrides; any problem is a one-line
    :class:`CompassError` naming file and key."""
    path = Path(path)
    if not path.is_file():
        raise CompassError(f"{path}: config file not found")
    raw = apply_overrides(read_python_config(path), list(overrides), str(path))
    for key in raw:  # helpers of any other name are the user's own (a leading underscore hides them too)
        close = [k for k in TOP_LEVEL if key not in TOP_LEVEL and near_miss(key, k)]
        if close:
            raise CompassError(f"{path}: {key}: unknown top-level key (did you mean {close[0]!r}?)")
    for key in ("models", "datasets"):
        if key not in raw:
            raise CompassError(f"{path}: {key}: required top-level key is missing")
        if not isinstance(raw[key], (list, tuple)) or not raw[key]:
            raise CompassError(f"{path}: {key}: expected a non-empty list of dicts")
    models = [from_dict(ModelConfig, m, f"{path}: models[{i}]") for i, m in enumerate(raw["models"])]
    datasets = [from_dict(DatasetConfig, d, f"{path}: datasets[{i}]") for i, d in enumerate(raw["datasets"])]
    for kind, abbrs in (("models", [m.abbr for m in models]), ("datasets", [d.abbr for d in datasets])):
        seen: set[str] = set()
        for i, abbr in enumerate(abbrs):
            if abbr in seen:
                raise CompassError(f"{path}: {kind}[{i}].abbr: duplicate abbr {abbr!r}")
            seen.add(abbr)
    datasets = [plan_baseline(ds, models, f"{path}: datasets[{i}].eval_cfg.evaluator") for i, ds in enumerate(datasets)]
    summarizer = from_dict(SummarizerCfg, raw.get("summarizer") or {}, f"{path}: summarizer")
    infer = from_dict(StageCfg, raw.get("infer") or {}, f"{path}: infer")
    partitioner = from_dict(PartitionerCfg, infer.partitioner, f"{path}: infer.partitioner")
    runner = from_dict(RunnerCfg, infer.runner, f"{path}: infer.runner")
    work_dir = raw.get("work_dir")
    if work_dir is not None and not isinstance(work_dir, str):
        raise CompassError(f"{path}: work_dir: expected str, got {type(work_dir).__name__}")
    contamination = raw.get("contamination")
    if contamination is not None and not isinstance(contamination, str):
        raise CompassError(f"{path}: contamination: expected str (a directory of labels), got "
                           f"{type(contamination).__name__}")
    return Config(str(path), models, datasets, summarizer, work_dir, runner, partitioner, contamination)


