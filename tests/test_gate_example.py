"""The gate example's pieces (the degraded checkpoint loads and differs; the candidate config plans),
and the gate on real runs of the demo: a model noised to chance on the MMLU-format set is flagged."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from compass import records
from compass.config.loading import read_python_config
from compass.store import RunDir

from helpers import REPO, compass, write_config


def test_degraded_copy_loads_and_differs(tmp_path, tiny_model):
    out = tmp_path / "degraded"
    subprocess.run([sys.executable, str(REPO / "examples" / "degrade_checkpoint.py"), str(tiny_model), str(out),
                    "--noise", "0.5"], check=True, capture_output=True)
    before, after = load_file(tiny_model / "model.safetensors"), load_file(out / "model.safetensors")
    assert before.keys() == after.keys()
    varied = [k for k, t in before.items() if t.float().std() > 0]  # norm weights start as constant ones
    assert varied and all(not torch.equal(before[k], after[k]) for k in varied)
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out)


def test_candidate_config_plans_the_same_datasets():
    proc = compass("run", "examples/gate_candidate.py", "--dry-run", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "outputs/gate-demo/degraded-checkpoint" in proc.stdout and "mmlu-mini, gsm8k-mini" in proc.stdout


def _run_dir(work_dir: Path) -> Path:
    (run,) = [p for p in work_dir.glob("*/*") if p.is_dir()]
    return run


def test_gate_flags_the_demo_model_noised_to_chance(tmp_path):
    """Issue 20: every MMLU-format line carries its subject as `group` (4 subjects). The gate used
    them as clusters, so a collapse to chance was "inconclusive". Real runs: the demo as shipped,
    then the demo's MMLU-format set on a noised copy of the reference model, under an abbr with a
    slash (the gate must find it by its abbr)."""
    proc = compass("run", "examples/eval_demo.py", "-w", str(tmp_path / "base"), "-q", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    degraded = tmp_path / "degraded"
    subprocess.run([sys.executable, str(REPO / "examples" / "degrade_checkpoint.py"),
                    str(REPO / "examples" / "assets" / "reference-demo"), str(degraded), "--noise", "1.0"],
                   check=True, capture_output=True)
    demo = read_python_config(REPO / "examples" / "eval_demo.py")
    model = dict(demo["models"][0], abbr="myorg/refdemo-noised", path=str(degraded))
    mmlu = [d for d in demo["datasets"] if d["abbr"] == "mmlu-mini"]
    config = write_config(tmp_path / "noised.py", [model], mmlu)
    proc = compass("run", str(config), "-w", str(tmp_path / "cand"), "-q", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    base, cand = _run_dir(tmp_path / "base"), _run_dir(tmp_path / "cand")

    # The setting of the issue: 100 questions in 4 subjects given as groups, no declared clusters.
    rows = records.read_lines(RunDir(cand).scored("myorg/refdemo-noised", "mmlu-mini"), records.Scored)
    assert len(rows) == 100 and len({r.group for r in rows}) == 4 and all(r.cluster is None for r in rows)
    accuracy = sum(r.value for r in rows) / len(rows)
    assert accuracy <= 0.30, f"the noised model should be at chance (0.25), got {accuracy}"

    proc = compass("gate", "--baseline", str(base), "--candidate", str(cand), "--json", str(tmp_path / "gate.json"),
                   cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "gate.json").read_text())
    (result,) = report["datasets"]
    assert result["dataset"] == "mmlu-mini" and result["verdict"] == "regression"
    assert (result["baseline"], result["candidate"]) == (0.40, accuracy)
    assert (result["n_clusters"], result["unit"], result["fallback"]) == (None, "sample", None)
    assert report["candidate"]["model"] == "myorg/refdemo-noised" and report["only_in_baseline"] == ["gsm8k-mini"]
    assert re.search(r"^mmlu-mini +100 +40\.00 .* regression$", proc.stdout, re.M), proc.stdout

    for run in (base, cand):  # each run against itself passes
        proc = compass("gate", "--baseline", str(run), "--candidate", str(run), cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "regression" not in proc.stdout
