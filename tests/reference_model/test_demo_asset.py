"""The shipped demo checkpoint loads with plain transformers (fp32) and beats chance on held-out items."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

ASSET = Path(__file__).resolve().parents[2] / "examples" / "assets" / "reference-demo"


@pytest.mark.skipif(not (ASSET / "model.safetensors").exists(), reason="demo asset not built")
def test_demo_asset_solves_held_out_word_problems():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from compass import synthetic as syn
    from reference_model.evalcheck import gsm8k_accuracy

    tok = AutoTokenizer.from_pretrained(ASSET, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(ASSET, local_files_only=True, dtype=torch.float32).eval()
    assert next(model.parameters()).dtype == torch.float32
    acc, _ = gsm8k_accuracy(model, tok, syn.gsm8k_items("test", 12, seed=0), max_new_tokens=64)
    assert acc >= 0.2  # exact match by chance is ~0


@pytest.mark.skipif(not (ASSET / "model.safetensors").exists(), reason="demo asset not built")
def test_readme_demo_leaderboard_is_clearly_above_chance(tmp_path):
    """README command 1's job, as a user runs it: both mini sets above chance, the MMLU-format one
    (4 choices, chance 25%) with its whole 95% interval above chance."""
    import json
    import subprocess
    import sys

    repo = ASSET.parents[2]
    proc = subprocess.run([sys.executable, "-m", "compass.cli", "run", "examples/eval_demo.py", "-w", str(tmp_path)],
                          cwd=repo, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (results,) = tmp_path.glob("eval_demo/*/results/reference-demo")
    mmlu = json.loads((results / "mmlu-mini.json").read_text())
    gsm8k = json.loads((results / "gsm8k-mini.json").read_text())
    assert mmlu["n"] == 100 and mmlu["ci95"]["accuracy"][0] > 0.25, mmlu["ci95"]
    assert gsm8k["metrics"]["accuracy"] >= 0.2  # exact match by chance is ~0
    assert "mmlu-mini" in proc.stdout and "gsm8k-mini" in proc.stdout  # the leaderboard is printed
