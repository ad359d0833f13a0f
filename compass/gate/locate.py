"""Where one side of a comparison keeps its per-sample outcomes: the run directory, the model (found
by its abbr whatever it contains: ``/``, ``..``, unicode) and each dataset's scored file.

A side is given as a run directory, or as one of its ``scored/``, ``predictions/`` or ``results/``
directories, or one model's directory inside those (the gate always reads ``scored/``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compass.errors import CompassError
from compass.store import RunDir, name_of, safe_name

# The per-model folders of a run directory (see compass.store); a path ending in one is inside a run.
_PER_MODEL = ("scored", "predictions", "results")
_EVAL_HINT = "compass run CONFIG -r {stamp} -m eval"


@dataclass(frozen=True)
class Located:
    given: Path  # the path as the user gave it
    run: RunDir
    model: str  # the model abbr
    datasets: dict[str, Path]  # dataset abbr -> its scored file, sorted by abbr

    @property
    def scored_dir(self) -> Path:
        return self.run.root / "scored" / safe_name(self.model, "model abbr")

    def result(self, dataset: str) -> Path:
        return self.run.result(self.model, dataset)


def locate(path: Path, model: str | None, role: str) -> Located:
    """The run, model and scored files that ``path`` (and ``--model``, when given) designate."""
    if not path.exists():
        raise CompassError(f"{role} path does not exist: {path}")
    if not path.is_dir():
        raise CompassError(f"{role} path is not a directory: {path} (expected a run directory)")
    root, implied = _run_root(path.resolve())
    if implied is not None:
        if model is not None and model != implied:
            raise CompassError(f"{role} path {path} holds model {implied!r}, not {model!r}")
        model = implied
    run = RunDir(root)
    scored_root = root / "scored"
    if not scored_root.is_dir():
        if (root / "predictions").is_dir():
            raise CompassError(f"{role} run {root} has predictions but no scored/ directory: evaluation hasn't "
                               f"run ({_EVAL_HINT.format(stamp=root.name)})")
        raise CompassError(f"{role} path {path} is not a run directory (it holds no scored/ or predictions/)")
    models = sorted(name_of(p.name) for p in scored_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if model is None:
        if not models:
            raise CompassError(f"{role} run {root} has no scored outcomes under {scored_root}")
        if len(models) > 1:
            raise CompassError(f"{role} run {root} holds {len(models)} models ({', '.join(models)}): choose one with "
                               "--model (or --baseline-model/--candidate-model)")
        model = models[0]
    located = Located(path, run, model, {})
    if not located.scored_dir.is_dir():
        raise CompassError(f"{role} run {root} has no model {model!r} with scored outcomes "
                           f"(models: {', '.join(models) or 'none'})")
    return Located(path, run, model, _datasets(run, model, located.scored_dir, role))


def _run_root(path: Path) -> tuple[Path, str | None]:
    """The run directory holding ``path``, and the model abbr that ``path`` names, if it names one.
    A model's directory holds files only, which tells it apart from a run directory whose parent
    happens to be called like a per-model folder (a config named "results")."""
    holds_per_model = any((path / kind).is_dir() for kind in _PER_MODEL)
    if path.parent.name in _PER_MODEL and not holds_per_model:
        return path.parent.parent, name_of(path.name)
    if path.name in _PER_MODEL:
        return path.parent, None
    return path, None


def _datasets(run: RunDir, model: str, scored_dir: Path, role: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for file in sorted(scored_dir.glob("*.jsonl")):
        if file.name.startswith("."):  # a temporary file of an atomic write
            continue
        name = name_of(file.name.removesuffix(".jsonl"))
        if run.scored(model, name) != file:
            raise CompassError(f"{file}: not a file name compass writes (dataset {name!r} would be "
                               f"{run.scored(model, name).name})")
        found[name] = file
    # A dataset that inference wrote but evaluation did not score would otherwise look "not compared".
    predictions = run.predictions(model, "x").parent
    inferred = {name_of(p.name.removesuffix(".meta.json")) for p in predictions.glob("*.meta.json")
                if not p.name.startswith(".")}
    unscored = sorted(inferred - found.keys())
    if unscored:
        more = f" (and {len(unscored) - 1} more)" if len(unscored) > 1 else ""
        raise CompassError(f"{role} run {run.root}: dataset {unscored[0]!r}{more} of model {model!r} has predictions "
                           f"but no scored file: evaluation hasn't run or did not finish "
                           f"({_EVAL_HINT.format(stamp=run.root.name)})")
    if not found:
        raise CompassError(f"{role} run {run.root}: no scored dataset for model {model!r} in {scored_dir}")
    return dict(sorted(found.items()))
