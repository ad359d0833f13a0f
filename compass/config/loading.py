"""Read an evaluation config file (an OpenCompass-shaped Python file, ``read_base()`` imports) into a
frozen :class:`~compass.config.schema.Config`; every problem is one line naming the file and key."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from compass.config.schema import Config, DatasetConfig, ModelConfig, PartitionerCfg, RunnerCfg, StageCfg, SummarizerCfg
from compass.errors import CompassError
from compass.schema import from_dict

TOP_LEVEL = {"models", "datasets", "summarizer", "work_dir", "infer", "eval"}


def load_config(path: str | Path) -> Config:
    """Read a config file; any problem is a one-line :class:`CompassError` naming file and key."""
    path = Path(path)
    if not path.is_file():
        raise CompassError(f"{path}: config file not found")
    raw = read_python_config(path)
    for key in raw:
        close = difflib.get_close_matches(key, TOP_LEVEL, n=1, cutoff=0.8)
        if key not in TOP_LEVEL and close:
            raise CompassError(f"{path}: {key}: unknown top-level key (did you mean {close[0]!r}?)")
    for key in ("models", "datasets"):
        if key not in raw:
            raise CompassError(f"{path}: {key}: required top-level key is missing")
        if not isinstance(raw[key], (list, tuple)) or not raw[key]:
            raise CompassError(f"{path}: {key}: expected a non-empty list of dicts")
    models = [from_dict(ModelConfig, m, f"{path}: models[{i}]") for i, m in enumerate(raw["models"])]
    datasets = [from_dict(DatasetConfig, d, f"{path}: datasets[{i}]") for i, d in enumerate(raw["datasets"])]
    for kind, items in (("models", models), ("datasets", datasets)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.abbr in seen:
                raise CompassError(f"{path}: {kind}[{i}].abbr: duplicate abbr {item.abbr!r}")
            seen.add(item.abbr)
    for i, ds in enumerate(datasets):  # a pairwise judge's baseline answers come from this same run
        baseline = ds.eval_cfg.evaluator.baseline
        if baseline is not None and baseline not in {m.abbr for m in models}:
            raise CompassError(f"{path}: datasets[{i}].eval_cfg.evaluator.baseline: {baseline!r} is not a model "
                               f"of this config (models: {', '.join(m.abbr for m in models)})")
    summarizer = from_dict(SummarizerCfg, raw.get("summarizer") or {}, f"{path}: summarizer")
    infer = from_dict(StageCfg, raw.get("infer") or {}, f"{path}: infer")
    partitioner = from_dict(PartitionerCfg, infer.partitioner, f"{path}: infer.partitioner")
    runner = from_dict(RunnerCfg, infer.runner, f"{path}: infer.runner")
    work_dir = raw.get("work_dir")
    if work_dir is not None and not isinstance(work_dir, str):
        raise CompassError(f"{path}: work_dir: expected str, got {type(work_dir).__name__}")
    return Config(str(path), models, datasets, summarizer, work_dir, runner, partitioner)


def read_python_config(path: Path) -> dict[str, Any]:
    from mmengine.config import Config as MMConfig  # imported here: it is slow and only needed now

    try:
        cfg = MMConfig.fromfile(str(path))
    except SyntaxError as exc:
        where = exc.filename if exc.filename and not exc.filename.startswith("<") else path
        raise CompassError(f"{where}:{exc.lineno}: syntax error: {exc.msg}") from None
    except (ImportError, ModuleNotFoundError) as exc:
        raise CompassError(f"{path}: import failed: {exc}") from None
    except Exception as exc:  # mmengine wraps user errors in many types
        raise CompassError(f"{path}: cannot load config: {type(exc).__name__}: {exc}") from None
    return _plain(cfg._cfg_dict.to_dict())


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
