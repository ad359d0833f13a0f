"""The gate example's pieces: the degraded checkpoint loads and differs; the candidate config plans."""
from __future__ import annotations

import subprocess
import sys

import torch
from safetensors.torch import load_file

from helpers import REPO, compass


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
