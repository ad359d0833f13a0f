"""The shipped demo checkpoint loads with plain transformers (fp32) and beats chance on held-out items."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

ASSET = Path(__file__).resolve().parents[2] / "examples" / "assets" / "reference-demo"


@pytest.mark.skipif(not (ASSET / "model.safetensors").exists(), reason="demo asset not built")
def test_demo_asset_solves_held_out_word_problems():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from compass.datasets import synthetic as syn
    from reference_model.evalcheck import gsm8k_accuracy

    tok = AutoTokenizer.from_pretrained(ASSET, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(ASSET, local_files_only=True, dtype=torch.float32).eval()
    assert next(model.parameters()).dtype == torch.float32
    acc, _ = gsm8k_accuracy(model, tok, syn.gsm8k_items("test", 12, seed=0), max_new_tokens=64)
    assert acc >= 0.2  # exact match by chance is ~0
