"""Helpers shared by the suite's tests: config writing, running the CLI, dataset dicts.

(Kept out of conftest.py: tests import these by name, and two conftest modules exist.)
"""
from __future__ import annotations

import os
import pprint
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def mmlu_dataset(path: Path, **overrides) -> dict:
    q = "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"
    cfg = dict(abbr="mmlu-mini", type="mmlu", path=str(path),
               reader_cfg=dict(input_columns=["question", "A", "B", "C", "D"], output_column="answer"),
               infer_cfg=dict(ice_template=dict(template=q + " {gold}\n\n"), prompt_template=dict(template=q),
                              retriever=dict(type="FixKRetriever", fix_id_list=[0, 1]),
                              inferencer=dict(type="PPLInferencer")),
               eval_cfg=dict(evaluator=dict(type="AccEvaluator")))
    cfg.update(overrides)
    return cfg


def gsm8k_dataset(path: Path, max_out_len: int = 12, **overrides) -> dict:
    cfg = dict(abbr="gsm8k-mini", type="gsm8k", path=str(path), reader_cfg=dict(train_split="train"),
               infer_cfg=dict(ice_template=dict(template="Question: {question}\nAnswer: {answer}\n\n"),
                              prompt_template=dict(template="Question: {question}\nAnswer:"),
                              retriever=dict(type="FixKRetriever", fix_id_list=[0]),
                              inferencer=dict(type="GenInferencer", max_out_len=max_out_len, stop=["\n\n"])),
               eval_cfg=dict(evaluator=dict(type="Gsm8kEvaluator"), pred_postprocessor=dict(type="gsm8k")))
    cfg.update(overrides)
    return cfg


def write_config(path: Path, models: list[dict], datasets: list[dict], **extra) -> Path:
    """A config file holding plain literals (what users write, minus read_base imports)."""
    body = [f"models = {pprint.pformat(models)}", f"datasets = {pprint.pformat(datasets)}"]
    body += [f"{k} = {pprint.pformat(v)}" for k, v in extra.items()]
    path.write_text("\n".join(body) + "\n")
    return path


def compass(*args: str, cwd: Path, timeout: float = 300, env: dict | None = None, run_as_module: bool = True,
            **kwargs) -> subprocess.CompletedProcess:
    """Run the CLI: as ``python -m compass.cli`` (this checkout), or as the installed ``compass``
    console script, the way users start it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    command = [sys.executable, "-m", "compass.cli"] if run_as_module else [str(Path(sys.executable).parent / "compass")]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
                          **kwargs)


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The single line a failing command printed to stderr (asserting it is one line)."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1, proc.stderr
    return lines[0]


def direct_logprob(backend, context: str, continuation: str) -> float:
    """log p(continuation | context) the plainest way: one forward over the whole text, softmax
    at every position. What every optimised scoring path must equal."""
    import torch

    tok = backend.tokenizer
    ctx, whole = tok(context)["input_ids"], tok(context + continuation)["input_ids"]
    with torch.no_grad():
        logits = backend.model(torch.tensor([whole])).logits[0].log_softmax(-1)
    return sum(float(logits[i - 1, whole[i]]) for i in range(len(ctx), len(whole)))


def limit_forward_rows(model, max_rows: int) -> None:
    """Test double for running out of GPU memory (there is no GPU here): the model's forward
    raises torch.OutOfMemoryError, as CUDA does, for more than ``max_rows`` rows."""
    import torch

    real_forward = model.forward

    def limited(*args, **kwargs):
        if kwargs["input_ids"].shape[0] > max_rows:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_forward(*args, **kwargs)

    model.forward = limited


# -- run files, through the one records module ------------------------------------------------
def predictions_of(run: Path, model: str, dataset: str):
    """The valid prediction records of a run's file (a damaged line is not one of them)."""
    from compass import records
    from compass.store import RunDir

    return records.read_log(RunDir(run).predictions(model, dataset), records.Prediction).records


def scored_of(run: Path, model: str, dataset: str):
    from compass import records
    from compass.store import RunDir

    return records.read_lines(RunDir(run).scored(model, dataset), records.Scored)


def result_of(run: Path, model: str, dataset: str):
    from compass import records
    from compass.store import RunDir

    return records.read_record(RunDir(run).result(model, dataset), records.Result)


def make_predictions(rows: list[dict]):
    """Prediction records from plain dicts with id, prediction, gold (and optionally prompt, group,
    cluster, finish_reason)."""
    from compass.records import Prediction

    return [Prediction(id=str(r["id"]), infer_hash=r.get("infer_hash", "test"), prompt=r.get("prompt", ""),
                       prediction=r["prediction"], gold=r["gold"], group=r.get("group"), cluster=r.get("cluster"),
                       finish_reason=r.get("finish_reason"))
            for r in rows]


def score_rows(rows: list[dict], eval_cfg, run_dir=None, model: str = "m", dataset: str = "d"):
    """Evaluate plain dict rows as the evaluation worker would: a ``Scoring`` (scored rows, metrics)."""
    from compass.evaluators.base import EvalContext
    from compass.evaluators.scoring import extractor, score
    from compass.store import RunDir

    ctx = EvalContext(run_dir or RunDir(Path("/nonexistent")), model, dataset, extractor(eval_cfg))
    return score(make_predictions(rows), eval_cfg, ctx)


def write_result(run_dir, model: str, dataset: str, n: int, value: float, ci95=(0.0, 1.0),
                 primary: str = "accuracy", **fields):
    """A hand-made result file (for summary and report tests that need known numbers)."""
    from compass import records
    from compass.records import Result

    result = Result(model=model, dataset=dataset, n=n, primary=primary, metrics={primary: value},
                    ci95={primary: list(ci95)}, evaluator="accuracy", config_hash="test", infer_hash="test",
                    compass_version="test", model_path="test", dataset_path="test", **fields)
    records.write_record(run_dir.result(model, dataset), result)
    return result


def backend_recording_rows(model_path: Path, batch_size: int):
    """A transformers backend with its own batch size, and the row count of every forward pass it
    makes: a batch-invariance test checks with it that each batch size really took effect."""
    from compass.config import ModelConfig
    from compass.models.hf import HFCausalLM

    backend = HFCausalLM(ModelConfig(abbr="tiny", path=str(model_path), batch_size=batch_size, max_seq_len=512))
    rows: list[int] = []
    real_forward = backend.model.forward

    def forward(*args, **kwargs):
        rows.append(kwargs["input_ids"].shape[0])
        return real_forward(*args, **kwargs)

    backend.model.forward = forward
    return backend, rows


def texts(completions) -> list[str]:
    """The texts of a backend's completions (what most generation tests compare)."""
    return [c.text for c in completions]


# Two HumanEval-format tasks (official field names) for the code-execution tests.
ADD = {"task_id": "T/add", "entry_point": "add", "canonical_solution": "    return a + b\n",
       "prompt": ('import math\n\n\ndef add(a: int, b: int) -> int:\n'
                  '    """Return a + b.\n    >>> add(2, 3)\n    5\n    """\n'),
       "test": "\n\ndef check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"}
EVEN = {"task_id": "T/even", "entry_point": "is_even", "canonical_solution": "    return n % 2 == 0\n",
        "prompt": 'def is_even(n: int) -> bool:\n    """True if n is even."""\n',
        "test": "def check(candidate):\n    assert candidate(4) is True\n    assert candidate(7) is False\n"}
