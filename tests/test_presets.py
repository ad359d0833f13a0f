"""The prompt presets (datasets_cfg/*/*_lmeval_*.py, *_opencompass_*.py) ask exactly what
lm-evaluation-harness 0.4.13 and OpenCompass 0.5.4 ask, per sample; results name the preset and the
hash of those prompts; the gate refuses to pair runs whose prompts differ.

The peers' prompts were recorded by ``python bench/prompts_vs_peers.py --record
tests/data/peer_prompts.json`` (each peer in its own venv, building the prompts with its own code and
configs on the fixture whose rows the recording carries), so these tests need neither peer installed.
"""
from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import Any, cast

import pytest

from compass.config import read_python_config
from compass.tasks.evaluate import prompt_hash

from helpers import REPO, compass, result_of, write_config

sys.path.insert(0, str(REPO / "bench"))
from peer_fixture import CASES, KNOWN_DIFFERENCES, Case, compass_prompts, recorded_texts, write_compass_layout

RECORDING = REPO / "tests" / "data" / "peer_prompts.json"


@pytest.fixture(scope="module")
def recording() -> dict:
    return recorded_texts(RECORDING)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_preset_prompts_are_the_peers_byte_for_byte(case, recording, tmp_path):
    side = compass_prompts(case, write_compass_layout(recording["rows"], tmp_path))
    theirs = recording[case.name]
    assert side.preset == case.peer
    assert side.texts.keys() == theirs.keys() and len(theirs) >= 11
    differ = sorted(i for i in theirs if side.texts[i] != theirs[i])
    # Every sample identical, except those documented as differing on purpose (which still differ).
    assert differ == sorted(KNOWN_DIFFERENCES.get(case.name, {})), (differ[:1], case.name)


def _hash(prompts: dict[str, str]) -> str:
    """The prompt hash of these prompts put to a plain (not chat) model by generation."""
    asked = json.dumps([[], False, None])  # no scored continuations, no chat template, no system turn
    return prompt_hash(cast(Any, [SimpleNamespace(id=i, prompt=p) for i, p in prompts.items()]), asked)


def _gsm8k(preset: str, data) -> dict:
    """A preset's GSM8K dataset on the fixture, as abbr "gsm8k", generating only 4 tokens."""
    (ds,) = read_python_config(REPO / "datasets_cfg" / "gsm8k" / preset)["gsm8k_datasets"]
    infer = dict(ds["infer_cfg"], inferencer=dict(ds["infer_cfg"]["inferencer"], max_out_len=4))
    return dict(ds, abbr="gsm8k", path=str(data / "gsm8k"), infer_cfg=infer)


def test_result_names_the_preset_and_the_gate_refuses_other_prompts(recording, tmp_path, tiny_model):
    data = write_compass_layout(recording["rows"], tmp_path / "data")
    model = [dict(abbr="tiny", path=str(tiny_model), batch_size=4)]
    runs = {}
    for name, preset in (("lmeval", "gsm8k_lmeval_gen.py"), ("suite", "gsm8k_mini_gen.py")):
        proc = compass("run", str(write_config(tmp_path / f"{name}.py", model, [_gsm8k(preset, data)])), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        (runs[name],) = list((tmp_path / "outputs" / name).iterdir())

    result = result_of(runs["lmeval"], "tiny", "gsm8k")
    lm_eval_prompts = {i: texts[0] for i, texts in recording["gsm8k_lmeval"].items()}
    assert result.prompt_preset == "lm-eval" and result.n == len(lm_eval_prompts)
    assert result.prompt_hash == _hash(lm_eval_prompts)  # the hash of lm-eval's own prompts
    suite = result_of(runs["suite"], "tiny", "gsm8k")
    assert suite.prompt_preset is None and suite.prompt_hash not in ("", result.prompt_hash)
    for run, preset, digest in ((runs["lmeval"], "lm-eval", result.prompt_hash), (runs["suite"], "none", suite.prompt_hash)):
        report = (run / "summary" / "summary.html").read_text()  # the provenance table names both
        assert f"<td>{preset}</td><td><code>{digest}</code></td>" in report

    gate = ["gate", "--baseline", str(runs["suite"]), "--candidate", str(runs["lmeval"])]
    proc = compass(*gate, cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for text in ("'gsm8k'", "prompts differ", f"{suite.prompt_hash} (preset none)",
                 f"{result.prompt_hash} (preset lm-eval)", "--allow-prompt-change"):
        assert text in proc.stderr
    proc = compass(*gate, "--allow-prompt-change", cwd=tmp_path)
    assert proc.returncode in (0, 1) and "gsm8k: prompts differ" in proc.stdout, proc.stderr
    same = compass("gate", "--baseline", str(runs["lmeval"]), "--candidate", str(runs["lmeval"]), cwd=tmp_path)
    assert same.returncode == 0 and "prompts" not in same.stdout, same.stdout + same.stderr


def test_opencompass_gsm8k_preset_matches_its_format(tmp_path):
    """OpenCompass's GSM8K examples are real train rows, so the recording cannot hold that preset (the
    bench compares it on the official files). Here, on a synthetic train split as long as the real one,
    the prompt as OpenCompass's sources state it: the dialogue turns joined by "\\n" (HuggingFaceBaseModel's
    template parser has no meta template), each example's answer without calculator notes and with
    "#### N" read as "The answer is N", and a newline after each answer."""
    import json
    import re

    from compass.synthetic import gsm8k_items

    train, test = gsm8k_items("train", 7473), gsm8k_items("test", 3)
    for split, rows in (("train", train), ("test", test)):
        (tmp_path / "gsm8k").mkdir(exist_ok=True)
        (tmp_path / "gsm8k" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    side = compass_prompts(Case("oc", "datasets_cfg/gsm8k/gsm8k_opencompass_gen.py", "gsm8k", "opencompass"), tmp_path)

    def human(question: str) -> str:
        return f"Question: {question}\nLet's think step by step\nAnswer:"

    turns = []
    for i in (7364, 1708, 669, 6724):
        turns += [human(train[i]["question"]),
                  re.sub(r"<<[^>]*>>", "", train[i]["answer"]).replace("#### ", "The answer is ") + "\n"]
    assert side.preset == "opencompass"
    assert side.prompts == {str(i): "\n".join([*turns, human(row["question"])]) for i, row in enumerate(test)}
