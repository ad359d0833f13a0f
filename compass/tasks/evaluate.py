"""Evaluation worker: ``python -m compass.tasks.evaluate RUN_DIR/tasks/<task>.json``.

Reads finished predictions (never changing them), scores them, and writes the scored rows and the
result file from scratch. It never loads the model under test, so changing an evaluator or an
answer extractor re-scores a run at no inference cost, on any machine that has the run directory.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from compass import __version__, records
from compass.config import DatasetConfig
from compass.evaluators.base import EvalContext
from compass.evaluators.scoring import extractor, score
from compass.plan import Task, config_hash, infer_hash
from compass.records import Prediction, PredictionMeta, Result
from compass.resume import read_complete
from compass.store import RunDir
from compass.tasks.worker import worker_main

log = logging.getLogger("compass.evaluate")


def evaluate_dataset(task: Task, run_dir: RunDir, ds: DatasetConfig) -> Result:
    model = task.model.abbr
    predictions = read_complete(run_dir, model, ds.abbr, infer_hash(task.model, ds))
    ordered = sorted(predictions, key=lambda p: _natural_key(p.id))
    scoring = score(ordered, ds.eval_cfg, EvalContext(run_dir, model, ds.abbr, extractor(ds.eval_cfg),
                                                      task.model.thinking))
    records.write_lines(run_dir.scored(model, ds.abbr), scoring.scored)
    meta = records.read_record(run_dir.prediction_meta(model, ds.abbr), PredictionMeta)
    result = Result(
        model=model, dataset=ds.abbr, n=len(ordered), primary=scoring.primary,
        metrics={k: m.value for k, m in scoring.metrics.items()},
        ci95={k: [m.ci95[0], m.ci95[1]] for k, m in scoring.metrics.items()},
        evaluator=ds.eval_cfg.evaluator.type, config_hash=config_hash(task.model, ds),
        infer_hash=meta.infer_hash, compass_version=__version__, model_path=task.model.path,
        dataset_path=ds.path, prompt_hash=prompt_hash(ordered, asked_as(task, ds)), prompt_preset=ds.prompt_preset,
        breakdown=scoring.breakdown, grids=scoring.grids, retries=meta.retries, timing=meta.timing)
    records.write_record(run_dir.result(model, ds.abbr), result)
    return result


def asked_as(task: Task, ds: DatasetConfig) -> str:
    """What shapes a question beyond its prompt text: the scored continuations of multiple choice,
    and a chat model's template and system turn."""
    inferencer = ds.infer_cfg.inferencer
    scored = [inferencer.continuation, inferencer.choices] if inferencer.type == "loglikelihood" else []
    return json.dumps([scored, task.model.chat, task.model.system_prompt])


def prompt_hash(predictions: list[Prediction], asked: str = "") -> str:
    """A digest of exactly what the model was asked: every sample's id and full prompt, and how they
    were put to it (``asked_as``)."""
    digest = hashlib.sha256(asked.encode())
    for p in sorted(predictions, key=lambda p: p.id):
        digest.update(f"{len(p.id)}:{p.id}{len(p.prompt)}:{p.prompt}".encode())
    return digest.hexdigest()[:16]


def _natural_key(sample_id: str):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in sample_id.replace("/", " / ").split()]


def run(task_file: str) -> None:
    task_path = Path(task_file)
    task = Task.from_file(task_path)
    run_dir = RunDir(task_path.parent.parent)
    for ds in task.datasets:
        result = evaluate_dataset(task, run_dir, ds)
        log.info("[%s] %s: %s %.2f (n=%d)", task.id, ds.abbr, result.primary,
                 100 * result.metrics[result.primary], result.n)


if __name__ == "__main__":
    worker_main(run)
