"""A random Llama whose greedy completions end at EOS after very uneven numbers of tokens.

The benchmark's plain random model (small initial weights) repeats one token forever, so every
greedy completion runs to ``max_out_len``: a fixture with nothing for continuous batching to
refill, unlike real models, whose answers end at different lengths. This one starts from the
same model and tokenizer, redraws every weight matrix but the embeddings with a larger standard
deviation (seeded), which makes greedy decoding depend on the whole context, and scales the EOS
embedding row, which sets how often EOS wins: each completion then ends at a different,
prompt-dependent step, from a few tokens to past the cap.
"""
from __future__ import annotations

import shutil
from pathlib import Path

WEIGHT_STD = 0.2
SEED = 1


def build_uneven_model(base: Path, dest: Path, eos_scale: float) -> Path:
    """``base``'s architecture and tokenizer with redrawn weights, saved under ``dest`` (idempotent)."""
    if (dest / "config.json").is_file():
        return dest
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 2 and "embed" not in name:
                param.copy_(torch.randn(param.shape, generator=generator) * WEIGHT_STD)
        model.get_input_embeddings().weight[model.config.eos_token_id] *= eos_scale  # tied: EOS's logit too
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    for f in base.iterdir():
        if f.is_file() and not f.name.startswith(("model", "config")):  # the tokenizer files
            shutil.copy(f, tmp / f.name)
    tmp.rename(dest)
    return dest
