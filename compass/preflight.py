"""Checks before any worker starts: every model's weights and every dataset can be found.

Failing here costs a second; failing inside a worker costs a model load and a log to read.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from compass import datasets
from compass.config import Config, ModelConfig
from compass.plan import Task
from compass.errors import CompassError


def check_model(model: ModelConfig, where: str) -> None:
    if model.type == "openai":  # no weights: instead, a quick look that the server answers and takes the key
        from compass.models.openai_api import check_server

        check_server(model, where)
        return
    if model.type == "vllm" and importlib.util.find_spec("vllm") is None:
        raise CompassError(f"{where}.type: 'VLLM' needs the vllm package (pip install vllm, on a CUDA machine); "
                           f"type 'HuggingFaceCausalLM' runs the same model without it")
    path = Path(model.path)
    if path.exists():
        if not (path / "config.json").is_file():
            raise CompassError(f"{where}.path: {model.path} has no config.json (not a Hugging Face model directory)")
        return
    if model.path.startswith((".", "/", "~")):
        raise CompassError(f"{where}.path: {model.path} does not exist")
    if _in_hub_cache(model.path):
        return
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    reason = "HF_HUB_OFFLINE is set" if offline else _hub_unreachable(model.path)
    if reason:
        raise CompassError(f"{where}.path: weights for {model.path!r} are not available: not a local directory, "
                           f"not in the Hugging Face cache, and cannot be downloaded ({reason})")


def _in_hub_cache(repo: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo, "config.json"), str)
    except Exception:
        return False


def _hub_unreachable(repo: str) -> str | None:
    """None when the hub answers for ``repo``; otherwise a short reason."""
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(repo, timeout=10)
        return None
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__


def check(cfg: Config, tasks: list[Task]) -> dict[str, int]:
    """Before the workers of ``tasks`` start (only where inference will run): their models' weights
    or servers, and their datasets. Returns sample counts per dataset abbr; raises a one-line error
    for the first problem found."""
    models = {t.model.abbr for t in tasks}
    for i, model in enumerate(cfg.models):
        if model.abbr in models:
            check_model(model, f"{cfg.file}: models[{i}] ({model.abbr})")
    needed = {d.abbr for t in tasks for d in t.datasets}
    counts = {}
    for i, ds in enumerate(cfg.datasets):
        if ds.abbr in needed:
            where = f"{cfg.file}: datasets[{i}] ({ds.abbr})"
            try:
                counts[ds.abbr] = len(datasets.load(ds).test)
            except CompassError as exc:
                raise CompassError(f"{where}: {exc}") from None
            if counts[ds.abbr] == 0:
                raise CompassError(f"{where}: no samples to evaluate (empty test split"
                                   + (f", or reader_cfg.test_range {ds.reader_cfg.test_range} past its end)"
                                      if ds.reader_cfg.test_range else ")"))
    return counts
