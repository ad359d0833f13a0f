"""Export a training checkpoint as a plain Hugging Face ``LlamaForCausalLM`` directory.

Loadable by ``transformers`` and vLLM without remote code.  The fused interleaved ``wqkv``
(per KV group: n_rep query heads, then k, then v) is split back into q/k/v projections.  Our RoPE
already uses HF's rotate-half layout, so q/k rows need no permutation.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer

from . import tokenizer as tok_mod
from .model import ModelConfig
from .train import checkpoint as ckpt

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def split_wqkv(w: torch.Tensor, cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n_rep = cfg.n_heads // cfg.n_kv_heads
    grouped = w.view(cfg.n_kv_heads, n_rep + 2, cfg.head_dim, cfg.hidden_size)
    q = grouped[:, :n_rep].reshape(cfg.n_heads * cfg.head_dim, cfg.hidden_size)
    k = grouped[:, -2].reshape(cfg.n_kv_heads * cfg.head_dim, cfg.hidden_size)
    v = grouped[:, -1].reshape(cfg.n_kv_heads * cfg.head_dim, cfg.hidden_size)
    return q, k, v


def to_llama_state_dict(sd: dict[str, torch.Tensor], cfg: ModelConfig, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    out = {"model.embed_tokens.weight": sd["tok_embeddings.weight"], "model.norm.weight": sd["norm.weight"]}
    if not cfg.tie_embeddings:
        out["lm_head.weight"] = sd["output.weight"]
    for i in range(cfg.n_layers):
        p, hf = f"layers.{i}.", f"model.layers.{i}."
        q, k, v = split_wqkv(sd[p + "attention.wqkv.weight"], cfg)
        out.update({
            hf + "self_attn.q_proj.weight": q, hf + "self_attn.k_proj.weight": k, hf + "self_attn.v_proj.weight": v,
            hf + "self_attn.o_proj.weight": sd[p + "attention.wo.weight"],
            hf + "mlp.gate_proj.weight": sd[p + "feed_forward.w1.weight"],
            hf + "mlp.up_proj.weight": sd[p + "feed_forward.w3.weight"],
            hf + "mlp.down_proj.weight": sd[p + "feed_forward.w2.weight"],
            hf + "input_layernorm.weight": sd[p + "attention_norm.weight"],
            hf + "post_attention_layernorm.weight": sd[p + "ffn_norm.weight"],
        })
    # safetensors refuses shared storage; clone makes every tensor its own contiguous buffer.
    return {k: v.detach().to(dtype).contiguous().clone() for k, v in out.items()}


def llama_config(cfg: ModelConfig, ids: dict[str, int], dtype: str) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size, "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.n_layers, "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads, "head_dim": cfg.head_dim, "hidden_act": "silu",
        "max_position_embeddings": cfg.max_seq_len, "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta, "rope_scaling": None, "attention_bias": False, "attention_dropout": 0.0,
        "mlp_bias": False, "tie_word_embeddings": cfg.tie_embeddings, "initializer_range": cfg.init_std,
        "bos_token_id": ids["bos"], "eos_token_id": ids["eos"], "pad_token_id": ids["pad"],
        "torch_dtype": dtype, "use_cache": True, "pretraining_tp": 1,
    }


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint dir, or a run dir (its newest checkpoint)."""
    p = Path(path)
    if (p / "model.pt").exists():
        return p
    found = ckpt.list_checkpoints(p)
    if not found:
        raise FileNotFoundError(f"no checkpoint under {p}")
    return found[-1]


def _special_ids(tok: Tokenizer, tok_dir: Path) -> dict[str, int]:
    """The ids config.json names; a tokenizer lacking one would export ``null`` ids that break generation."""
    ids: dict[str, int] = {}
    for role, token in (("bos", tok_mod.EOT), ("eos", tok_mod.EOT), ("pad", tok_mod.PAD), ("im_end", tok_mod.IM_END)):
        token_id = tok.token_to_id(token)
        if token_id is None:
            raise ValueError(f"{tok_dir}: tokenizer has no {token!r} token (the {role} id of the export)")
        ids[role] = token_id
    return ids


def export(checkpoint: str | Path, out_dir: str | Path, tokenizer_dir: str | Path | None = None,
           dtype: str = "float32") -> Path:
    src = resolve_checkpoint(checkpoint)
    sd, state = ckpt.load_model_weights(src)
    cfg = ModelConfig.from_dict(state["model_config"])
    tok_dir = Path(tokenizer_dir or state["tokenizer"])
    tok = tok_mod.load(tok_dir)
    ids = _special_ids(tok, tok_dir)
    if tok.get_vocab_size() != cfg.vocab_size:
        raise ValueError(f"tokenizer vocab {tok.get_vocab_size()} != model vocab {cfg.vocab_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = to_llama_state_dict(sd, cfg, DTYPES[dtype])
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(llama_config(cfg, ids, dtype), indent=2))
    gen = {"bos_token_id": ids["bos"], "eos_token_id": [ids["eos"], ids["im_end"]], "pad_token_id": ids["pad"],
           "do_sample": False}
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(tok_dir / name, out / name)
    provenance = {"checkpoint": str(src.resolve()), "step": state["step"], "tokens": state.get("tokens"),
                  "data": state["train_config"].get("data"), "model_config": state["model_config"],
                  "weights_sha256": hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()}
    (out / "refmodel_export.json").write_text(json.dumps(provenance, indent=2))
    return out
