"""Compass side of ``bench/vs_lm_eval.py``: a generated config per variant, run through the CLI.

The dataset dicts are compass's own mini configs (``datasets_cfg/mmlu/mmlu_mini_ppl.py``,
``datasets_cfg/gsm8k/gsm8k_mini_gen.py``) written inline as plain literals, because a config
outside the repo cannot use relative ``read_base()`` imports.
"""
from __future__ import annotations

import json
import os
import pprint
import subprocess
import sys
import time
from pathlib import Path

from lm_eval_side import OFFLINE

MODEL_ABBR = "bench-llama"
MMLU_Q = "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"
GSM8K_MAX_OUT = 96  # gsm8k_mini_gen.py
GSM8K_STOP = ["\n\n", "Question:"]  # gsm8k_mini_gen.py
# Generation variants: GSM8K prompts, greedy, this many new tokens at most.
MAX_OUT = {"gsm8k": GSM8K_MAX_OUT, "gsm8k_uneven": GSM8K_MAX_OUT, "long": 512}


def dataset_cfg(variant: str, data: Path) -> dict:
    if variant in MAX_OUT:
        return dict(
            abbr=variant, type="gsm8k", path=str(data / "gsm8k"),
            reader_cfg=dict(input_columns=["question"], output_column="answer", train_split="train", test_split="test"),
            infer_cfg=dict(ice_template=dict(template="Question: {question}\nAnswer: {answer}\n\n"),
                           prompt_template=dict(template="Question: {question}\nAnswer:"),
                           retriever=dict(type="FixKRetriever", fix_id_list=[0, 1, 2, 3]),
                           inferencer=dict(type="GenInferencer", max_out_len=MAX_OUT[variant], stop=GSM8K_STOP)),
            eval_cfg=dict(evaluator=dict(type="Gsm8kEvaluator"), pred_postprocessor=dict(type="gsm8k")))
    continuation = " {text}" if variant == "mc_text" else " {label}"
    return dict(
        abbr=variant, type="mmlu", path=str(data / "mmlu"),
        reader_cfg=dict(input_columns=["question", "A", "B", "C", "D"], output_column="answer",
                        train_split="dev", test_split="test"),
        infer_cfg=dict(
            ice_template=dict(template=MMLU_Q + " {gold}\n\n"),
            prompt_template=dict(begin="The following are multiple choice questions (with answers) about {subject}.\n\n",
                                 template=MMLU_Q),
            retriever=dict(type="FixKRetriever", fix_id_list=[0, 1, 2, 3, 4]),
            inferencer=dict(type="PPLInferencer", choices=["A", "B", "C", "D"], continuation=continuation)),
        eval_cfg=dict(evaluator=dict(type="AccEvaluator")))


def write_config(path: Path, variant: str, model: Path, data: Path, batch_size: int, device: str = "cpu",
                 dtype: str = "float32") -> Path:
    models = [dict(abbr=MODEL_ABBR, type="HuggingFaceCausalLM", path=str(model), dtype=dtype, device=device,
                   max_out_len=GSM8K_MAX_OUT, max_seq_len=2048, batch_size=batch_size)]
    infer = dict(partitioner=dict(type="NaivePartitioner"),
                 runner=dict(type="LocalRunner", max_num_workers=1, retry=0))
    body = [f"models = {pprint.pformat(models)}", f"datasets = {pprint.pformat([dataset_cfg(variant, data)])}",
            f"infer = {pprint.pformat(infer)}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(body) + "\n")
    return path


def run(config: Path, work_dir: Path, log: Path) -> dict:
    """``python -m compass.cli run CONFIG -w WORK_DIR``; wall seconds, model-loop seconds, run dir."""
    cmd = [sys.executable, "-m", "compass.cli", "run", str(config), "-w", str(work_dir)]
    env = {**os.environ, **OFFLINE}
    before = set(work_dir.glob(f"{config.stem}/*"))
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work_dir.parent)
    wall = time.perf_counter() - start
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"compass failed (exit {proc.returncode}); see {log}")
    (run_dir,) = set(work_dir.glob(f"{config.stem}/*")) - before
    return {"wall_s": wall, "loop_s": loop_seconds(run_dir), "run_dir": str(run_dir), "cmd": cmd}


def loop_seconds(run_dir: Path) -> float | None:
    """From the first batch sent to the model (events.jsonl ``time``) to the predictions' completion
    mark (``<dataset>.meta.json``, rewritten by the worker right after its last batch)."""
    events = [json.loads(line) for f in (run_dir / "logs" / "infer").glob("*.events.jsonl")
              for line in f.read_text().splitlines() if line.strip()]
    metas = list((run_dir / "predictions" / MODEL_ABBR).glob("*.meta.json"))
    if not events or not metas:
        return None
    return max(m.stat().st_mtime for m in metas) - min(e["time"] for e in events)


def read_predictions(run_dir: Path) -> tuple[dict[str, dict], dict]:
    """Prediction lines by id, and the result file (accuracy)."""
    (pred,) = (Path(run_dir) / "predictions" / MODEL_ABBR).glob("*.jsonl")
    rows = {r["id"]: r for r in map(json.loads, pred.read_text().splitlines())}
    (result,) = (Path(run_dir) / "results" / MODEL_ABBR).glob("*.json")
    return rows, json.loads(result.read_text())
