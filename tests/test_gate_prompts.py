"""`compass gate` and prompt hashes: two runs are paired on a dataset only when their results carry
the same prompt hash, unless --allow-prompt-change; a result without a hash (an older run) is named as
unchecked and compared. (test_presets.py does the same on real runs of the presets.)"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from compass import records
from compass.gate.cli import main
from compass.store import RunDir


def _run(root: Path, hashes: dict[str, tuple[str, str | None] | None]) -> Path:
    """A run of model "m" with one dataset per entry: its scored rows and, unless None, a result file
    carrying that (prompt hash, preset)."""
    correct = np.random.default_rng(0).random(400) < 0.6
    for dataset, carried in hashes.items():
        run = RunDir(root)
        records.write_lines(run.scored("m", dataset), [
            records.Scored(id=f"q{i}", evaluator="accuracy", extracted="x", correct=bool(ok))
            for i, ok in enumerate(correct)])
        if carried is not None:
            records.write_record(run.result("m", dataset), records.Result(
                model="m", dataset=dataset, n=len(correct), primary="accuracy", metrics={"accuracy": 0.6},
                ci95={"accuracy": [0.5, 0.7]}, evaluator="accuracy", config_hash="c", infer_hash="i",
                compass_version="0", model_path="p", dataset_path="d", prompt_hash=carried[0],
                prompt_preset=carried[1]))
    return root


def _gate(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_different_prompt_hashes_are_refused_unless_allowed(tmp_path, capsys):
    base = _run(tmp_path / "base", {"gsm8k": ("aaaa", None), "mmlu": ("m1", "lm-eval"), "arc": ("x", None)})
    cand = _run(tmp_path / "cand", {"gsm8k": ("bbbb", "lm-eval"), "mmlu": ("m2", "lm-eval"), "arc": ("x", None)})
    code, out, err = _gate(capsys, "--baseline", base, "--candidate", cand)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert ("dataset 'gsm8k': prompts differ: baseline aaaa (preset none), candidate bbbb (preset lm-eval) "
            "(and 1 more dataset(s)): the runs asked different prompts") in err and "--allow-prompt-change" in err

    code, out, _ = _gate(capsys, "--baseline", base, "--candidate", cand, "--allow-prompt-change",
                         "--json", tmp_path / "r.json")
    assert code == 0
    assert "gsm8k: prompts differ: baseline aaaa (preset none), candidate bbbb (preset lm-eval); compared " \
           "anyway (--allow-prompt-change)" in out and "mmlu: prompts differ" in out and "arc: prompts" not in out
    notes = {d["dataset"]: d["prompt_note"] for d in json.loads((tmp_path / "r.json").read_text())["datasets"]}
    assert notes["arc"] is None and "m1 (preset lm-eval)" in notes["mmlu"]


@pytest.mark.parametrize("base_hash,cand_hash", [(None, ("h", None)), (("", None), ("h", None)),
                                                 (("h", None), None)])
def test_a_result_without_prompt_hash_is_named_and_compared(tmp_path, capsys, base_hash, cand_hash):
    """An older run (empty prompt_hash) or a missing result file: said once, and the gate goes on."""
    base = _run(tmp_path / "base", {"gsm8k": base_hash, "mmlu": ("same", None)})
    cand = _run(tmp_path / "cand", {"gsm8k": cand_hash, "mmlu": ("same", None)})
    code, out, _ = _gate(capsys, "--baseline", base, "--candidate", cand, "--markdown", tmp_path / "r.md")
    assert code == 0  # identical outcomes: never a regression, and not refused (2)
    (line,) = [ln for ln in out.splitlines() if "prompts" in ln]
    assert line == ("  prompts not checked for gsm8k: a result file lacks a prompt hash (a run from before prompt "
                    "hashes, or no result file)")
    assert "prompts not checked for gsm8k" in (tmp_path / "r.md").read_text()
