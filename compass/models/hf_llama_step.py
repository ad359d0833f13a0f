"""A Llama decode step without transformers' module machinery, for the continuous batcher.

At a 16-row decode step of a small model on a CPU, transformers' per-module dispatch, mask
building and output bookkeeping cost about half as much again as the matrix products. This
step runs the same torch operations, in the same order and on the same weights, as
``LlamaForCausalLM.forward`` with the shared-prefix attention (``hf_attention.py``), so its
logits are bitwise equal (tests/test_hf_llama_step.py compares them at every step). It applies
only to models whose every module is exactly the Llama class it reproduces (``supports``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.models.llama import modeling_llama as llama

from compass.models.hf_attention import shared_prefix_attention


def supports(model) -> bool:
    """Exactly transformers' Llama modules (a subclass may compute something else)."""
    if type(model) is not llama.LlamaForCausalLM or type(model.model) is not llama.LlamaModel:
        return False
    parts: list[object] = [model.model.norm, model.model.rotary_emb, model.model.embed_tokens]
    for layer in model.model.layers:
        parts += [layer, layer.self_attn, layer.mlp, layer.input_layernorm, layer.post_attention_layernorm]
    expected = (llama.LlamaRMSNorm, llama.LlamaRotaryEmbedding, torch.nn.Embedding, llama.LlamaDecoderLayer,
                llama.LlamaAttention, llama.LlamaMLP)
    return (all(type(p) in expected for p in parts) and not model.training
            and len(model.model.layers) == model.config.num_hidden_layers)


def _rms_norm(norm: llama.LlamaRMSNorm, hidden: torch.Tensor) -> torch.Tensor:
    input_dtype = hidden.dtype
    hidden = hidden.to(torch.float32)
    variance = hidden.pow(2).mean(-1, keepdim=True)
    hidden = hidden * torch.rsqrt(variance + norm.variance_epsilon)
    return norm.weight * hidden.to(input_dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return (x * cos) + (torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin)


def _linear(layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, layer.weight, layer.bias)


def decode_step(model, input_ids: torch.Tensor, position_ids: torch.Tensor, cache, mask: torch.Tensor,
                shared_prefix: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Logits ``[rows, 1, vocab]`` for one token per row (``input_ids``, ``position_ids``: ``[rows, 1]``).

    ``cache``: a ``DynamicCache`` of each row's own columns, updated in place; ``mask``: bool
    ``[rows, columns after the update]``, True where a row attends; ``shared_prefix``: per layer
    the prefix's keys and values, read once for all rows."""
    inner = model.model
    hidden = inner.embed_tokens(input_ids)
    cos, sin = inner.rotary_emb(hidden, position_ids=position_ids)
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    mask = mask[:, None, None, :]
    rows = input_ids.shape[0]
    for index, layer in enumerate(inner.layers):
        attn, mlp = layer.self_attn, layer.mlp
        residual = hidden
        hidden = _rms_norm(layer.input_layernorm, hidden)
        shape = (rows, 1, -1, attn.head_dim)
        query = _linear(attn.q_proj, hidden).view(shape).transpose(1, 2)
        key = _linear(attn.k_proj, hidden).view(shape).transpose(1, 2)
        value = _linear(attn.v_proj, hidden).view(shape).transpose(1, 2)
        query, key = _rotate(query, cos, sin), _rotate(key, cos, sin)
        key, value = cache.layers[index].update(key, value)
        out, _ = shared_prefix_attention(attn, query, key, value, mask, scaling=attn.scaling,
                                         shared_prefix=shared_prefix)
        hidden = residual + _linear(attn.o_proj, out.reshape(rows, 1, -1).contiguous())
        residual = hidden
        hidden = _rms_norm(layer.post_attention_layernorm, hidden)
        hidden = residual + _linear(mlp.down_proj, mlp.act_fn(_linear(mlp.gate_proj, hidden)) * _linear(mlp.up_proj, hidden))
    return _linear(model.lm_head, _rms_norm(inner.norm, hidden))
