"""Evaluation worker: ``python -m compass.tasks.evaluate RUN_DIR/tasks/<task>.json``.

Reads finished predictions, extracts answers, marks each line ``correct``, and writes the result
file with every metric's 95% CI. It never loads a model, so changing an evaluator or an answer
extractor re-scores a run at no inference cost.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from compass import __version__, evaluators
from compass.config import DatasetConfig
from compass.errors import CompassError
from compass.plan import Task, config_hash
from compass.store import RunDir, read_json, recover_jsonl, write_json_atomic, write_text_atomic
from compass.tasks.worker import worker_main


def evaluate_dataset(task: Task, run_dir: RunDir, ds: DatasetConfig) -> dict:
    model = task.model.abbr
    pred_path = run_dir.predictions(model, ds.abbr)
    meta_path = run_dir.prediction_meta(model, ds.abbr)
    meta = read_json(meta_path) if meta_path.exists() else {}
    if not meta.get("complete"):
        raise CompassError(f"{pred_path}: predictions are incomplete; run inference first (compass run -r)")
    rows = recover_jsonl(pred_path)
    by_id = {r["id"]: r for r in rows}
    if len(by_id) != meta["n"]:
        raise CompassError(f"{pred_path}: holds {len(by_id)} samples, expected {meta['n']}")
    ordered = sorted(by_id.values(), key=lambda r: _natural_key(r["id"]))
    scored = evaluators.evaluate(ordered, ds.eval_cfg, evaluators.EvalContext(run_dir, model, ds.abbr))
    # Rewritten in dataset order, with per-sample outcomes, so runs compare sample by sample.
    write_text_atomic(pred_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered))
    result = {
        "model": model,
        "dataset": ds.abbr,
        "n": len(ordered),
        **scored,
        "config_hash": config_hash(task.model, ds),
        "infer_hash": meta.get("infer_hash"),
        "compass_version": __version__,
        "model_path": task.model.path,
        "dataset_path": ds.path,
    }
    write_json_atomic(run_dir.result(model, ds.abbr), result)
    return result


def _natural_key(sample_id: str):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in sample_id.replace("/", " / ").split()]


def run(task_file: str) -> None:
    task_path = Path(task_file)
    task = Task.from_file(task_path)
    run_dir = RunDir(task_path.parent.parent)
    for ds in task.datasets:
        result = evaluate_dataset(task, run_dir, ds)
        primary = result["primary"]
        print(f"[{task.id}] {ds.abbr}: {primary} {100 * result['metrics'][primary]:.2f} (n={result['n']})",
              file=sys.stderr, flush=True)


if __name__ == "__main__":
    worker_main(run)
