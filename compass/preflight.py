"""Checks before any worker starts: every model's weights and every dataset can be found.

Failing here costs a second; failing inside a worker costs a model load and a log to read.
"""
from __future__ import annotations

import difflib
import importlib.util
import json
import os
from pathlib import Path

from compass import datasets
from compass.config import Config, DatasetConfig, ModelConfig
from compass.datasets.base import LoadedDataset
from compass.errors import CompassError
from compass.plan import Task
from compass.prompts.template import PLACEHOLDER


def check_model(model: ModelConfig, where: str, max_new: int | None = None) -> None:
    """The model's weights (or server) can be reached; ``max_new`` (the most tokens any of its datasets
    asks it to generate) fits in the context it was built for."""
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
        if max_new is not None:
            check_lengths(max_new, path / "config.json", where)
        return
    if model.path.startswith((".", "/", "~")) or model.path.count("/") > 1:  # not a hub id (org/name)
        raise CompassError(f"{where}.path: {not_found(model.path)}")
    if _in_hub_cache(model.path):
        return
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    reason = "HF_HUB_OFFLINE is set" if offline else _hub_unreachable(model.path)
    if reason:
        raise CompassError(f"{where}.path: weights for {model.path!r} are not available: not in the Hugging Face "
                           f"cache, cannot be downloaded ({reason}), and as a path, {not_found(model.path)}")


def not_found(path: str) -> str:
    """Why a relative path was not found: where it was looked for."""
    return f"{path} does not exist (relative paths are read from the current directory, {Path.cwd()})"


def check_relative(path: str, config_file: str, where: str) -> None:
    """A relative path that is missing from the current directory but present beside the config file:
    the user ran compass from another folder. Say so, naming both candidates."""
    if not path or Path(path).is_absolute() or Path(path).exists():
        return
    beside = Path(config_file).resolve().parent / path
    if beside.exists():
        raise CompassError(f"{where}.path: {path} is not in the current directory ({Path.cwd()}) but is beside the "
                           f"config file ({beside}); relative paths are read from the current directory: run compass "
                           f"from {Path(config_file).resolve().parent}, or write an absolute path")


def check_lengths(max_new: int, config_json: Path, where: str) -> None:
    """New tokens against the context the model was built for (prompts are cut to fit, answers not)."""
    try:
        context = int(json.loads(config_json.read_text()).get("max_position_embeddings") or 0)
    except (ValueError, OSError, AttributeError):
        return
    if context and max_new >= context:
        raise CompassError(f"{where}.max_out_len: {max_new} new tokens do not fit in the model's context "
                           f"of {context} tokens (max_position_embeddings in {config_json})")


def check_prompts(ds: DatasetConfig, data: LoadedDataset, where: str) -> None:
    """Templates that name a column the data has and do not show a sample its own answer, and gold
    answers a multiple-choice prompt can give."""
    infer = ds.infer_cfg
    sample = data.test[0]
    columns = set(sample.fields)
    for key, template, extra in (("prompt_template.template", infer.prompt_template.template, set()),
                                 ("prompt_template.begin", infer.prompt_template.begin, set()),
                                 ("ice_template.template", infer.ice_template.template if infer.ice_template else "",
                                  {"gold"})):
        known = columns | extra
        for name in PLACEHOLDER.findall(template):
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
            if name not in known and close:  # other braces (LaTeX, JSON, code) stay as they are
                raise CompassError(f"{where}: infer_cfg.{key}: {{{name}}} names no column (did you mean {{{close[0]}}}? "
                                   f"columns: {', '.join(sorted(known))})")
    answers = datasets.answer_fields(ds) & columns
    for key, template in (("prompt_template.template", infer.prompt_template.template),
                          ("prompt_template.begin", infer.prompt_template.begin)):
        for name in PLACEHOLDER.findall(template):
            if name in answers:  # a score near 100% with exit 0: the model copies what it is shown
                raise CompassError(f"{where}: infer_cfg.{key}: {{{name}}} holds each sample's answer, so every "
                                   f"prompt would show it (few-shot examples show answers through ice_template)")
    if not columns & set(PLACEHOLDER.findall(infer.prompt_template.template)):
        raise CompassError(f"{where}: infer_cfg.prompt_template.template names no column of the data, so every "
                           f"sample would get the same prompt (columns: {', '.join(sorted(columns))})")
    if infer.inferencer.type == "loglikelihood" and ds.eval_cfg.evaluator.type == "accuracy":
        choices = set(infer.inferencer.choices)
        for s in data.test:
            if str(s.gold) not in choices:
                raise CompassError(f"{where}: sample {s.id!r} has gold {s.gold!r}, which is none of the choices "
                                   f"{infer.inferencer.choices} (infer_cfg.inferencer.choices): it could never be "
                                   f"scored correct")


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
            generated = [ds.infer_cfg.inferencer.max_out_len or model.max_out_len for t in tasks
                         if t.model.abbr == model.abbr for ds in t.datasets if ds.infer_cfg.inferencer.type == "generate"]
            check_relative(model.path, cfg.file, f"{cfg.file}: models[{i}] ({model.abbr})")
            check_model(model, f"{cfg.file}: models[{i}] ({model.abbr})", max(generated, default=None))
    needed = {d.abbr for t in tasks for d in t.datasets}
    counts = {}
    for i, ds in enumerate(cfg.datasets):
        if ds.abbr in needed:
            where = f"{cfg.file}: datasets[{i}] ({ds.abbr})"
            check_relative(ds.path, cfg.file, where)
            try:
                data = datasets.load(ds)
            except CompassError as exc:
                raise CompassError(f"{where}: {exc}") from None
            counts[ds.abbr] = len(data.test)
            if not data.test:
                raise CompassError(f"{where}: no samples to evaluate (empty test split"
                                   + (f", or reader_cfg.test_range {ds.reader_cfg.test_range} past its end)"
                                      if ds.reader_cfg.test_range else ")"))
            check_prompts(ds, data, where)
    return counts
