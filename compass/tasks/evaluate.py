"""Evaluation worker: ``python -m compass.tasks.evaluate RUN_DIR/tasks/<task>.json``.

Reads finished predictions, extracts answers, marks each line ``correct``, and writes the result
file with every metric's 95% CI. It never loads a model, so changing an evaluator or an answer
extractor re-scores a run at no inference cost.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from compass import __version__
from compass.config import DatasetConfig
from compass.errors import CompassError
from compass.evaluators.accuracy import EVALUATORS
from compass.evaluators.postprocess import POSTPROCESSORS
from compass.evaluators.stats import wilson
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
    extract = POSTPROCESSORS[ds.eval_cfg.pred_postprocessor.type if ds.eval_cfg.pred_postprocessor else "none"]
    judge = EVALUATORS[ds.eval_cfg.evaluator.type]
    ordered = sorted(by_id.values(), key=lambda r: _natural_key(r["id"]))
    per_group: dict[str, list[bool]] = defaultdict(list)
    for row in ordered:
        row["extracted"] = extract(str(row["prediction"]))
        row["correct"] = bool(judge(row["extracted"], row["gold"]))
        if row.get("group") is not None:
            per_group[row["group"]].append(row["correct"])
    # Rewritten in dataset order, with per-sample outcomes, so runs compare sample by sample.
    write_text_atomic(pred_path, "".join(_dump(r) for r in ordered))
    k, n = sum(r["correct"] for r in ordered), len(ordered)
    result = {
        "model": model,
        "dataset": ds.abbr,
        "n": n,
        "metrics": {"accuracy": k / n if n else 0.0},
        "ci95": {"accuracy": list(wilson(k, n))},
        "breakdown": {g: {"n": len(v), "accuracy": sum(v) / len(v), "ci95": list(wilson(sum(v), len(v)))}
                      for g, v in sorted(per_group.items())},
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


def _dump(row: dict) -> str:
    import json

    return json.dumps(row, ensure_ascii=False) + "\n"


def run(task_file: str) -> None:
    task_path = Path(task_file)
    task = Task.from_file(task_path)
    run_dir = RunDir(task_path.parent.parent)
    for ds in task.datasets:
        result = evaluate_dataset(task, run_dir, ds)
        print(f"[{task.id}] {ds.abbr}: accuracy {100 * result['metrics']['accuracy']:.2f} (n={result['n']})",
              file=sys.stderr, flush=True)


if __name__ == "__main__":
    worker_main(run)
