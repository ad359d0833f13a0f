"""HumanEval: loader, completion post-processing, seeded sampling in the transformers backend, and
a sampled run end to end. The code evaluator and pass@k: tests/test_code_exec.py."""
from __future__ import annotations

import gzip
import json

import pytest
import torch

from compass.config import InferencerCfg
from compass.datasets import humaneval
from compass.errors import CompassError
from compass.evaluators.postprocess import humaneval_completion
from compass.schema import from_dict
from compass.synthetic import humaneval_items, write_humaneval

from helpers import (
    ADD,
    EVEN,
    backend_recording_rows,
    compass,
    error_line,
    predictions_of,
    result_of,
    scored_of,
    texts,
    write_config,
)

# -- loader ------------------------------------------------------------------------------------

def test_loader_reads_the_official_layout_plain_gzip_and_directory(tmp_path):
    plain = write_humaneval(tmp_path / "a" / "HumanEval.jsonl", n=6)
    packed = write_humaneval(tmp_path / "b" / "HumanEval.jsonl.gz", n=6)
    rows = [json.loads(line) for line in plain.read_text().splitlines()]
    assert [set(r) for r in rows] == [{"task_id", "prompt", "canonical_solution", "test", "entry_point"}] * 6
    for source in (plain, packed, plain.parent, packed.parent):
        samples = humaneval.load(str(source)).test
        assert [s.id for s in samples] == [r["task_id"] for r in rows]
        s, r = samples[0], rows[0]
        assert s.fields == {"prompt": r["prompt"], "entry_point": r["entry_point"],
                            "canonical_solution": r["canonical_solution"]}
        assert s.gold == {"prompt": r["prompt"], "test": r["test"], "entry_point": r["entry_point"]}
        json.dumps(s.gold)  # the prediction line must stay JSON
    assert humaneval_items(6) == rows and humaneval_items(6, seed=1) != rows  # seeded, reproducible
    assert len({r["prompt"] for r in humaneval_items(60)}) == 60


GOOD = json.dumps(ADD)


@pytest.mark.parametrize("line, expected", [
    ("{broken", "not valid JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    (json.dumps({k: v for k, v in ADD.items() if k != "test"}), "missing field 'test'"),
    (json.dumps({**ADD, "entry_point": 3}), "field 'entry_point' must be a string, got int"),
    (json.dumps({**ADD, "entry_point": "add it"}), "field 'entry_point' 'add it' is not a Python identifier"),
    (json.dumps({**ADD, "test": "assert True"}), "field 'test' does not define check(candidate)"),
    (json.dumps({**EVEN, "task_id": "T/add"}), "duplicate task_id 'T/add'"),
])
def test_malformed_rows_are_one_line_naming_file_and_line(tmp_path, line, expected):
    for name, write in (("HumanEval.jsonl", lambda p, t: p.write_text(t)),
                        ("HumanEval.jsonl.gz", lambda p, t: p.write_bytes(gzip.compress(t.encode())))):
        path = tmp_path / name
        write(path, f"{GOOD}\n\n{line}\n")  # the bad row is on line 3
        with pytest.raises(CompassError) as exc:
            humaneval.load(str(path))
        message = str(exc.value)
        assert message == f"{path}:3: {expected}" or message.startswith(f"{path}:3: {expected} (")
        assert "\n" not in message


def test_unreadable_sources_are_one_clear_line(tmp_path, monkeypatch):
    (tmp_path / "bad.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(CompassError, match=r"bad.jsonl.gz: not a valid gzip file"):
        humaneval.load(str(tmp_path / "bad.jsonl.gz"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CompassError, match=r"empty: no HumanEval file here"):
        humaneval.load(str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(CompassError, match=r"openai/openai_humaneval: not a local HumanEval file or directory "
                                           r"and not loadable") as exc:
        humaneval.load("openai/openai_humaneval")
    assert "\n" not in str(exc.value)


def test_bad_data_through_the_cli(tmp_path, tiny_model):
    data = write_humaneval(tmp_path / "he" / "HumanEval.jsonl", n=3)
    data.write_text(data.read_text() + '{"task_id": "x"}\n')
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model))], [_dataset(data)])
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 2
    assert "datasets[0] (he-mini)" in error_line(proc) and "HumanEval.jsonl:4: missing field 'prompt'" in proc.stderr


# -- post-processing -----------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("    return a + b\n\n\ndef main():\n    pass\n", "    return a + b\n"),
    ("\n    x = a\n    return x + b\nprint(add(1, 2))\n", "    x = a\n    return x + b\n"),
    ("    return a + b\nif __name__ == '__main__':\n    exit(0)\n", "    return a + b\n"),
    ("    return a + b\n# tests\nassert add(1, 1) == 2\n", "    return a + b\n"),
    ("    return a + b\n```\n\nThis adds.", "    return a + b\n"),
    ("Sure! Here it is:\n```python\ndef add(a, b):\n    return a + b\n\nprint(add(2, 3))\n```\nDone.",
     "def add(a, b):\n    return a + b\n"),
    ("```py\nimport math\n\nLIMIT: int = 3\n\n@staticmethod\ndef add(a, b):\n    return a + b\n\nadd(1, 2)\n",
     "import math\n\nLIMIT: int = 3\n\n@staticmethod\ndef add(a, b):\n    return a + b\n"),
    ("def add(a, b):\n    return a + b\n```\nExplanation: ...", "def add(a, b):\n    return a + b\n"),
    ("I cannot help with that.", ""),
    ("", ""),
])
def test_completion_postprocessing(raw, expected):
    assert humaneval_completion(raw) == expected


# (The code evaluator's own tests are in tests/test_code_exec.py.)


# -- seeded sampling in the transformers backend -----------------------------------------------

def test_sampler_draws_from_the_tempered_nucleus():
    from compass.models.hf_generate import SeededSampler as _SeededSampler

    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).repeat(4000, 1)
    for temperature, top_p in ((1.0, 1.0), (0.5, 1.0), (1.0, 0.7)):
        picked = _SeededSampler(list(range(4000)), temperature, top_p)(None, logits.clone()).argmax(-1)
        freq = torch.bincount(picked, minlength=4).float() / 4000
        probs = (logits[0] / temperature).softmax(-1)
        if top_p < 1:  # 0.64 + 0.24 reaches 0.7: only the two likeliest tokens remain
            probs = torch.tensor([probs[0], probs[1], 0, 0]) / (probs[0] + probs[1])
        assert torch.allclose(freq, probs, atol=0.03), (temperature, top_p, freq, probs)
    # A row's draw depends on its own seed only, not on its neighbours.
    alone = _SeededSampler([7], 1.0, 1.0)(None, logits[:1].clone()).argmax(-1)
    batched = _SeededSampler([3, 7, 11], 1.0, 1.0)(None, logits[:3].clone()).argmax(-1)
    assert alone[0] == batched[1]


@pytest.fixture(scope="module")
def backend(tiny_model):
    from compass.config import ModelConfig
    from compass.models.hf import HFCausalLM

    return HFCausalLM(ModelConfig(abbr="tiny", path=str(tiny_model), batch_size=4, max_seq_len=512))


def test_sampling_is_reproducible_across_batch_sizes_order_and_runs(backend, tiny_model):
    from compass.models.base import GenerateRequest

    prompts = [t["prompt"] for t in humaneval_items(4)]
    requests = [GenerateRequest(p, 10, num_samples=3, temperature=1.0, seed=i) for i, p in enumerate(prompts)]
    outs, widest = {}, {}
    for batch_size in (1, 5, 32):
        sized, rows = backend_recording_rows(tiny_model, batch_size)
        torch.manual_seed(batch_size)  # the global RNG must not matter
        outs[batch_size] = texts(sized.generate(requests))
        widest[batch_size] = max(rows)
    assert widest == {1: 1, 5: 5, 32: 12}  # each batch size took effect (4 prompts x 3 samples)
    # Other requests in the batch, and reversed order, leave every completion unchanged.
    mixed = texts(backend.generate([GenerateRequest(prompts[0][:20], 10, num_samples=2, temperature=1.0, seed=99),
                                    *requests[::-1]]))[2:]
    again = texts(backend.generate(requests))
    assert len(outs[1]) == 12 and all(isinstance(t, str) for t in outs[1])
    assert outs[1] == outs[5] == outs[32] == again
    assert [outs[1][3 * i:3 * i + 3] for i in range(4)] == [mixed[3 * i:3 * i + 3] for i in range(4)][::-1]
    # It really samples: completions of one prompt differ, and differ from greedy and other seeds.
    assert any(len(set(outs[1][3 * i:3 * i + 3])) > 1 for i in range(4))
    greedy = texts(backend.generate([GenerateRequest(p, 10, num_samples=3) for p in prompts]))
    assert all(len(set(greedy[3 * i:3 * i + 3])) == 1 for i in range(4))  # greedy copies are identical
    assert greedy != outs[1]
    reseeded = texts(backend.generate([GenerateRequest(p, 10, num_samples=3, temperature=1.0, seed=i + 100)
                                       for i, p in enumerate(prompts)]))
    assert reseeded != outs[1]
    assert texts(backend.generate([GenerateRequest(prompts[0], 10)])) == greedy[:1]  # n=1 greedy unchanged


@pytest.mark.parametrize("keys, message", [
    (dict(num_samples=3), "num_samples: 3 samples need temperature > 0"),
    (dict(num_samples=0, temperature=0.5), "num_samples: must be >= 1"),
    (dict(temperature=-1.0), "temperature: must be >= 0"),
    (dict(temperature=0.8, top_p=0.0), "top_p: must be in (0, 1]"),
    (dict(type="PPLInferencer", num_samples=2, temperature=0.8), "apply to GenInferencer only"),
])
def test_sampling_keys_are_validated(keys, message):
    with pytest.raises(CompassError, match=r"^inferencer") as exc:
        from_dict(InferencerCfg, {"type": "GenInferencer", **keys}, "inferencer")
    assert message in str(exc.value)


# -- end to end ---------------------------------------------------------------------------------------

def _dataset(path, **inferencer) -> dict:
    return dict(abbr="he-mini", type="humaneval", path=str(path),
                infer_cfg=dict(prompt_template=dict(template="{prompt}"),
                               inferencer=dict(type="GenInferencer", max_out_len=12,
                                               stop=["\ndef ", "\nclass ", "\nif __name__", "\nprint("], **inferencer)),
                eval_cfg=dict(evaluator=dict(type="HumanEvalEvaluator", timeout_s=5.0, k=[1, 2]),
                              pred_postprocessor=dict(type="humaneval")))


def test_sampled_run_end_to_end(tmp_path, tiny_model):
    data = write_humaneval(tmp_path / "he" / "HumanEval.jsonl", n=4)
    predictions = {}
    for name, batch_size in (("bs1", 1), ("bs8", 8)):
        cfg = write_config(tmp_path / f"{name}.py", [dict(abbr="tiny", path=str(tiny_model), batch_size=batch_size)],
                           [_dataset(data, num_samples=3, temperature=0.8, top_p=0.95)])
        proc = compass("run", str(cfg), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        (run,) = list((tmp_path / "outputs" / name).iterdir())
        rows = sorted(predictions_of(run, "tiny", "he-mini"), key=lambda r: r.id)
        assert [r.id for r in rows] == [f"Synthetic/{i}" for i in range(4)]
        scored = {r.id: r for r in scored_of(run, "tiny", "he-mini")}
        for row in rows:
            assert isinstance(row.prediction, list) and len(row.prediction) == 3
            assert set(row.gold) == {"prompt", "test", "entry_point"}
            out = scored[row.id]
            assert len(out.extracted) == len(out.details["passed"]) == len(out.details["exec"]) == 3
            assert all(e["status"] in ("passed", "failed", "timeout", "killed") for e in out.details["exec"])
            assert out.score == sum(out.details["passed"]) / 3 and out.correct is None
        r = result_of(run, "tiny", "he-mini")
        result = {"metrics": r.metrics}
        assert r.n == 4 and r.primary == "score"
        assert set(r.metrics) == {"score", "pass@1", "pass@2", "truncated"} == set(r.ci95)
        assert r.metrics["pass@1"] == pytest.approx(r.metrics["score"])
        assert "he-mini" in proc.stdout
        html = (run / "summary" / "summary.html").read_text()  # pass@k is in the report, not only the JSON
        assert "All metrics" in html and "pass@2" in html
        assert f"{100 * result['metrics']['pass@2']:.2f}" in html
        predictions[name] = [r.prediction for r in rows]
    # Batch size changes nothing, and the run reproduces: same completions, sample for sample.
    assert predictions["bs1"] == predictions["bs8"]
    assert any(len(set(p)) > 1 for p in predictions["bs1"])  # the samples do differ
