"""Load a model to fine-tune or serve: a training checkpoint, a run dir, or a Hugging Face export.

A ``refmodel export`` directory (``LlamaForCausalLM``: config.json + model.safetensors) is turned
back into the training model by merging q/k/v into the fused interleaved ``wqkv`` (per KV group:
its query heads, then its key head, then its value head), the inverse of ``export.split_wqkv``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from ..configio import ConfigError
from ..model import ModelConfig, Transformer
from . import checkpoint as ckpt


@dataclass
class Loaded:
    model: Transformer
    tokenizer_dir: Path      # holds tokenizer.json and tokenizer_config.json
    source: Path             # the checkpoint dir or export dir the weights came from
    eos_ids: tuple[int, ...]  # generation stops at any of these (empty: the tokenizer's defaults apply)


def is_hf_export(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def _hf_model_config(cfg: dict) -> ModelConfig:
    if cfg.get("model_type") != "llama":
        raise ConfigError(f"{cfg.get('_path')}: model_type {cfg.get('model_type')!r}, expected 'llama' "
                          f"(a `refmodel export` directory)")
    return ModelConfig(vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"], n_layers=cfg["num_hidden_layers"],
                       n_heads=cfg["num_attention_heads"], n_kv_heads=cfg.get("num_key_value_heads") or
                       cfg["num_attention_heads"], intermediate_size=cfg["intermediate_size"],
                       max_seq_len=cfg.get("max_position_embeddings", 2048), rope_theta=cfg.get("rope_theta", 10000.0),
                       norm_eps=cfg.get("rms_norm_eps", 1e-5), tie_embeddings=bool(cfg.get("tie_word_embeddings")))


def merge_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    n_rep, hd, h = cfg.n_heads // cfg.n_kv_heads, cfg.head_dim, cfg.hidden_size
    groups = torch.cat([q.view(cfg.n_kv_heads, n_rep, hd, h), k.view(cfg.n_kv_heads, 1, hd, h),
                        v.view(cfg.n_kv_heads, 1, hd, h)], dim=1)
    return groups.reshape(-1, h)


def from_llama_state_dict(sd: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    out = {"tok_embeddings.weight": sd["model.embed_tokens.weight"], "norm.weight": sd["model.norm.weight"],
           "output.weight": sd["model.embed_tokens.weight"] if cfg.tie_embeddings else sd["lm_head.weight"]}
    for i in range(cfg.n_layers):
        p, hf = f"layers.{i}.", f"model.layers.{i}."
        out[p + "attention.wqkv.weight"] = merge_qkv(sd[hf + "self_attn.q_proj.weight"], sd[hf + "self_attn.k_proj.weight"],
                                                     sd[hf + "self_attn.v_proj.weight"], cfg)
        out[p + "attention.wo.weight"] = sd[hf + "self_attn.o_proj.weight"]
        out[p + "feed_forward.w1.weight"] = sd[hf + "mlp.gate_proj.weight"]
        out[p + "feed_forward.w3.weight"] = sd[hf + "mlp.up_proj.weight"]
        out[p + "feed_forward.w2.weight"] = sd[hf + "mlp.down_proj.weight"]
        out[p + "attention_norm.weight"] = sd[hf + "input_layernorm.weight"]
        out[p + "ffn_norm.weight"] = sd[hf + "post_attention_layernorm.weight"]
    return {k: v.float() for k, v in out.items()}


def _eos_of_export(path: Path) -> tuple[int, ...]:
    gen = path / "generation_config.json"
    if not gen.is_file():
        return ()
    eos = json.loads(gen.read_text()).get("eos_token_id")
    return tuple([eos] if isinstance(eos, int) else eos or [])


def load_model(path: str | Path, where: str = "checkpoint") -> Loaded:
    """Float32 weights of ``path``: a checkpoint dir, a run dir (its newest checkpoint), or an export."""
    from safetensors.torch import load_file

    p = Path(path)
    if is_hf_export(p):
        raw = json.loads((p / "config.json").read_text())
        cfg = _hf_model_config({**raw, "_path": str(p / "config.json")})
        model = Transformer(cfg)
        model.load_state_dict(from_llama_state_dict(load_file(str(p / "model.safetensors")), cfg))
        return Loaded(model.eval(), p, p, _eos_of_export(p))
    if (p / "model.pt").is_file():
        src = p
    else:
        found = ckpt.list_checkpoints(p)
        if not found:
            raise ConfigError(f"config key '{where}': {p} is neither a checkpoint, a run dir with checkpoints/, "
                              f"nor a `refmodel export` directory")
        src = found[-1]
    sd, state = ckpt.load_model_weights(src)
    model = Transformer(ModelConfig.from_dict(state["model_config"]))
    model.load_state_dict(sd)
    tok_dir = Path(state["tokenizer"])
    if not (tok_dir / "tokenizer.json").is_file():
        raise ConfigError(f"config key '{where}': {src}/state.json names tokenizer {tok_dir}, which has no tokenizer.json")
    return Loaded(model.eval(), tok_dir, src, ())
