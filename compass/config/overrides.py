"""A config without editing a file: ``--cfg-options KEY=VALUE`` overrides and the quick mode
(``compass run --models ... --datasets ...``), which writes the config it runs.

Overrides address the config's plain data by dotted keys, list items by index:
``models.0.batch_size=1``, ``datasets.1.reader_cfg.test_range=[0:10]``,
``infer.runner.max_num_workers=2``. A value is read as a Python literal when it is one (``1``,
``0.5``, ``True``, ``None``, ``["a", "b"]``), else as a string.
"""
from __future__ import annotations

import ast
import pprint
import tempfile
from pathlib import Path
from typing import Any

from compass.config.pyfile import read_python_config
from compass.errors import CompassError


def apply_overrides(raw: dict[str, Any], overrides: list[str], where: str) -> dict[str, Any]:
    """``raw`` with each ``KEY=VALUE`` applied in order (a new dict; ``raw`` is left alone)."""
    out = _copy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise CompassError(f"--cfg-options {item!r}: expected KEY=VALUE, e.g. models.0.batch_size=1")
        *parents, leaf = key.strip().split(".")
        node: Any = out
        for depth, part in enumerate(parents):
            node = _child(node, part, ".".join(parents[:depth + 1]), where, create=True)
        _set(node, leaf, _value(text), key.strip(), where)
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text


def _child(node: Any, part: str, path: str, where: str, create: bool) -> Any:
    if isinstance(node, list):
        index = _index(node, part, path, where)
        return node[index]
    if isinstance(node, dict):
        if part not in node:
            if not create:
                raise CompassError(f"{where}: --cfg-options {path}: no such key")
            node[part] = {}
        return node[part]
    raise CompassError(f"{where}: --cfg-options {path}: {type(node).__name__} has no keys")


def _set(node: Any, leaf: str, value: Any, path: str, where: str) -> None:
    if isinstance(node, list):
        node[_index(node, leaf, path, where)] = value
    elif isinstance(node, dict):
        node[leaf] = value
    else:
        raise CompassError(f"{where}: --cfg-options {path}: {type(node).__name__} has no keys")


def _index(items: list, part: str, path: str, where: str) -> int:
    try:
        index = int(part)
    except ValueError:
        raise CompassError(f"{where}: --cfg-options {path}: a list needs an index, got {part!r}") from None
    if not -len(items) <= index < len(items):
        raise CompassError(f"{where}: --cfg-options {path}: index {index} out of range (the list has {len(items)})")
    return index


# -- quick mode -------------------------------------------------------------------------------
def quick_config(models: list[str], datasets: list[str], root: Path) -> Path:
    """Write (to a temporary folder) the config that ``--models`` and ``--datasets`` name, and return it.

    A model is a model config name from ``models_cfg/`` (``reference_demo``), a config file, or a
    local Hugging Face model directory; a dataset is a dataset config name from ``datasets_cfg/``
    (``gsm8k_mini_gen``) or a config file. The file holds plain data, so the run's ``configs/``
    keeps exactly what ran."""
    model_dicts = [m for spec in models for m in _models(spec, root)]
    dataset_dicts = [d for spec in datasets for d in _datasets(spec, root)]
    if not model_dicts or not dataset_dicts:
        raise CompassError("quick mode needs at least one --models and one --datasets")
    folder = Path(tempfile.mkdtemp(prefix="compass-quick-"))
    path = folder / "quick.py"
    path.write_text(f"# Written by: compass run --models {' '.join(models)} --datasets {' '.join(datasets)}\n"
                    f"models = {pprint.pformat(model_dicts, sort_dicts=False)}\n"
                    f"datasets = {pprint.pformat(dataset_dicts, sort_dicts=False)}\n", encoding="utf-8")
    return path


def _find(spec: str, folder: Path, what: str) -> Path:
    direct = Path(spec)
    if direct.suffix == ".py" and direct.is_file():
        return direct
    found = sorted(folder.rglob(f"{spec}.py")) if folder.is_dir() else []
    if len(found) != 1:
        known = sorted(p.stem for p in folder.rglob("*.py")) if folder.is_dir() else []
        why = "several files have that name" if found else f"known: {', '.join(known) or 'none'}"
        raise CompassError(f"--{what} {spec}: no config {folder}/**/{spec}.py ({why}); `compass list` shows them")
    return found[0]


def _models(spec: str, root: Path) -> list[dict]:
    directory = Path(spec)
    if directory.is_dir() and (directory / "config.json").is_file():
        return [{"abbr": directory.resolve().name, "type": "HuggingFaceCausalLM", "path": str(directory)}]
    raw = read_python_config(_find(spec, root / "models_cfg", "models"))
    return [m for key, value in raw.items() if key.endswith("models") and isinstance(value, list) for m in value]


def _datasets(spec: str, root: Path) -> list[dict]:
    raw = read_python_config(_find(spec, root / "datasets_cfg", "datasets"))
    found = [d for key, value in raw.items() if key.endswith("datasets") and isinstance(value, list) for d in value]
    if not found:
        raise CompassError(f"--datasets {spec}: the config defines no *_datasets list")
    return found
