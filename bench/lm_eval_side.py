"""lm-evaluation-harness side of ``bench/vs_lm_eval.py``: its venv, task YAMLs, runs and outputs.

The task YAMLs are generated so that lm-eval builds the same prompt strings as compass's configs
(``datasets_cfg/mmlu/mmlu_mini_ppl.py``, ``datasets_cfg/gsm8k/gsm8k_mini_gen.py``) over the same
rows; the data is re-written as jsonl (same rows, plus an integer ``answer`` index for MMLU and the
worked ``solution`` that compass shows in its GSM8K shots).
"""
from __future__ import annotations

import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

LM_EVAL_VERSION = "0.4.13"
TORCH_VERSION = "2.13.0"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_EVALUATE_OFFLINE": "1"}
LETTERS = ["A", "B", "C", "D"]
MMLU_QUESTION = "{{question}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\nAnswer:"


# -- the virtualenv -------------------------------------------------------------------------------
def _venv_versions(venv: Path) -> dict | None:
    py = venv / "bin" / "python"
    if not py.exists():
        return None
    code = ("import json, importlib.metadata as m; import lm_eval, torch, transformers, accelerate; "
            "print(json.dumps({k: m.version(k) for k in ('lm_eval', 'torch', 'transformers', 'accelerate')}))")
    proc = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def ensure_venv(venv: Path) -> dict:
    """A venv with ``lm-eval[hf]==0.4.13`` on ``torch==2.13.0``; reused when it already works."""
    versions = _venv_versions(venv)
    if versions and versions["lm_eval"] == LM_EVAL_VERSION and versions["torch"].startswith(TORCH_VERSION):
        return versions
    print(f"[lm-eval] installing lm-eval[hf]=={LM_EVAL_VERSION} into {venv} ...", file=sys.stderr, flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, f"torch=={TORCH_VERSION}"], check=True)
    constraints = venv / "constraints.txt"
    constraints.write_text(f"torch=={TORCH_VERSION}\n")
    subprocess.run([*pip, f"lm-eval[hf]=={LM_EVAL_VERSION}", "-c", str(constraints)], check=True)
    versions = _venv_versions(venv)
    if not versions:
        raise SystemExit(f"lm-eval venv at {venv} does not import after installing")
    return versions


# -- data and task YAMLs --------------------------------------------------------------------------
def _yaml(path: Path, cfg: dict) -> None:
    # Every value as JSON, which YAML reads as is: no quoting surprises with "\n" or ": ".
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in cfg.items()))


def _write_jsonl(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def write_mmlu_tasks(mmlu_root: Path, out: Path, variant: str) -> str:
    """One task per subject (so first_n takes that subject's dev rows), tagged ``cb_<variant>``."""
    tag = f"cb_{variant}"
    task_dir = out / "tasks" / variant
    task_dir.mkdir(parents=True, exist_ok=True)
    for test_csv in sorted((mmlu_root / "data" / "test").glob("*_test.csv")):
        subject = test_csv.name[: -len("_test.csv")]
        files = {}
        for split in ("dev", "test"):
            with (mmlu_root / "data" / split / f"{subject}_{split}.csv").open(newline="") as f:
                rows = [dict(question=r[0], A=r[1], B=r[2], C=r[3], D=r[4], choices=r[1:5],
                             answer=LETTERS.index(r[5].strip())) for r in csv.reader(f) if r]
            files[split] = _write_jsonl(out / "data" / "mmlu" / f"{subject}_{split}.jsonl", rows)
        text = variant == "mc_text"
        _yaml(task_dir / f"{subject}.yaml", {
            "task": f"{tag}_{subject}", "tag": tag,
            "dataset_path": "json", "dataset_kwargs": {"data_files": files},
            "test_split": "test", "fewshot_split": "dev", "num_fewshot": 5,
            "output_type": "multiple_choice",
            "description": f"The following are multiple choice questions (with answers) about "
                           f"{subject.replace('_', ' ')}.\n\n",
            "doc_to_text": MMLU_QUESTION,
            "doc_to_choice": "choices" if text else LETTERS,
            "doc_to_target": "answer",  # an integer index: a string label would score everything wrong
            "target_delimiter": " ", "fewshot_delimiter": "\n\n",
            # Shots end in the gold *letter* in compass's ice_template, for both variants.
            "fewshot_config": {"sampler": "first_n", "doc_to_choice": LETTERS},
            "metric_list": [{"metric": "acc"}],
        })
    return tag


def write_gsm8k_task(gsm_root: Path, out: Path, max_gen_toks: int, stop: list[str], variant: str = "gsm8k") -> str:
    from compass.datasets.gsm8k import parse_answer  # the solution text compass's shots show

    files = {}
    for split in ("train", "test"):
        rows = [json.loads(line) for line in (gsm_root / f"{split}.jsonl").read_text().splitlines() if line.strip()]
        for i, row in enumerate(rows):
            row["solution"], row["number"] = parse_answer(row["answer"], f"{split} row {i + 1}")
        files[split] = _write_jsonl(out / "data" / "gsm8k" / f"{split}.jsonl", rows)
    task_dir = out / "tasks" / variant
    task_dir.mkdir(parents=True, exist_ok=True)
    _yaml(task_dir / f"{variant}.yaml", {
        "task": f"cb_{variant}", "dataset_path": "json", "dataset_kwargs": {"data_files": files},
        "test_split": "test", "fewshot_split": "train", "num_fewshot": 4,
        "output_type": "generate_until",
        "doc_to_text": "Question: {{question}}\nAnswer:", "doc_to_target": "solution",
        "target_delimiter": " ", "fewshot_delimiter": "\n\n", "fewshot_config": {"sampler": "first_n"},
        "generation_kwargs": {"until": stop, "do_sample": False, "max_gen_toks": max_gen_toks},
        "metric_list": [{"metric": "exact_match"}],
    })
    return f"cb_{variant}"


# -- running and reading outputs ------------------------------------------------------------------
def run(venv: Path, model: Path, task: str, include: Path, out: Path, batch_size: int, log: Path,
        device: str = "cpu", dtype: str = "float32") -> dict:
    """Run lm-eval once; returns wall seconds and the model loop's seconds (from its progress bar)."""
    cmd = [str(venv / "bin" / "lm_eval"), "run", "--model", "hf",
           "--model_args", f"pretrained={model},dtype={dtype}", "--device", device,
           "--tasks", task, "--include_path", str(include), "--batch_size", str(batch_size),
           "--output_path", str(out), "--log_samples"]
    env = {**os.environ, **OFFLINE, "PYTHONUNBUFFERED": "1"}
    stamps: list[tuple[float, str]] = []  # (seconds since start, text) per line or progress-bar redraw
    shutil.rmtree(out, ignore_errors=True)  # read_samples reads every samples file under it
    out.mkdir(parents=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=out.parent)
    buf = b""
    while chunk := proc.stdout.read1(65536):
        now = time.perf_counter() - start
        *parts, buf = re.split(rb"[\r\n]", buf + chunk)
        stamps += [(now, p.decode(errors="replace")) for p in parts if p.strip()]
    rc = proc.wait()
    wall = time.perf_counter() - start
    log.write_text("".join(f"[{t:8.2f}] {s}\n" for t, s in stamps) + buf.decode(errors="replace"))
    if rc != 0:
        raise SystemExit(f"lm-eval failed (exit {rc}); see {log}")
    bar = [(t, s) for t, s in stamps if re.search(r"Running (loglikelihood|generate_until) requests", s)]
    done = [t for t, s in bar if "100%|" in s]
    loop = done[0] - bar[0][0] if bar and done else None
    return {"wall_s": wall, "loop_s": loop, "cmd": cmd}


def read_samples(out: Path, tag: str) -> dict[str, dict]:
    """Per compass-style id (``<subject>/<row>`` or ``<row>``): prompt, choice scores or generation."""
    found: dict[str, dict] = {}
    for path in sorted(glob.glob(str(out / "**" / f"samples_{tag}*.jsonl"), recursive=True)):
        task = re.match(r"samples_(.+)_\d{4}-\d\d-\d\dT.*\.jsonl$", Path(path).name).group(1)
        subject = task[len(tag) + 1:] if task != tag else None
        for line in Path(path).read_text().splitlines():
            s = json.loads(line)
            args = [list(a.values()) if isinstance(a, dict) else list(a) for a in _arg_list(s["arguments"])]
            key = f"{subject}/{s['doc_id']}" if subject else str(s["doc_id"])
            row = {"prompt": args[0][0], "doc": s["doc"], "metrics": {k: s[k] for k in ("acc", "exact_match") if k in s}}
            if len(args) > 1 or isinstance(s["filtered_resps"][0], list):  # multiple choice: (loglik, greedy)
                row["scores"] = [float(r[0]) for r in s["filtered_resps"]]
                row["continuations"] = [a[1] for a in args]
            else:
                row["generation"] = s["resps"][0][0]
            found[key] = row
    if not found:
        raise SystemExit(f"no lm-eval samples for {tag} under {out}")
    return found


def _arg_list(arguments) -> list:
    return list(arguments.values()) if isinstance(arguments, dict) else list(arguments)
