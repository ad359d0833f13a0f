"""Decode-step attention that reads a shared prefix's keys and values once for the whole batch.

With a few-shot prefix shared by every row, plain attention reads each row's own copy of the
prefix's keys and values at every step: on a CPU (memory-bound) that traffic was most of the
attention time for 4-shot GSM8K. Here the prefix is kept once, outside the cache: each step's
scores against it come from one matrix product for all rows, then one softmax over
[prefix scores, own scores] per row, which is the same attention as over the concatenation.

The model's attention implementation is switched to this function for decode steps only; with
no ``shared_prefix`` argument it is exactly transformers' SDPA attention.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

NAME = "compass_shared_prefix"
AttentionInterface.register(NAME, lambda *args, **kwargs: shared_prefix_attention(*args, **kwargs))
AttentionMaskInterface.register(NAME, sdpa_mask)


def can_share_prefix(model) -> bool:
    """Plain full attention through transformers' attention interface (SDPA or eager): no sliding
    windows, soft-capping or sinks, whose masks and scores this function does not reproduce."""
    config = model.config
    layer_types = getattr(config, "layer_types", None) or []
    return (config._attn_implementation in ("sdpa", "eager")
            and getattr(config, "sliding_window", None) is None
            and getattr(config, "attn_logit_softcapping", None) is None
            and all(t == "full_attention" for t in layer_types)
            and not any(hasattr(m, "sinks") for m in model.modules()))


@contextmanager
def sharing_prefix(model) -> Iterator[None]:
    """Run the model's forward passes with this attention (decode steps), then restore its own."""
    before = model.config._attn_implementation
    model.config._attn_implementation = NAME
    try:
        yield
    finally:
        model.config._attn_implementation = before


def shared_prefix_attention(module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                            attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                            shared_prefix: list[tuple[torch.Tensor, torch.Tensor]] | None = None, **kwargs):
    """``query`` ``[rows, heads, 1, dim]``; ``key``/``value`` each row's own columns ``[rows, kv_heads,
    n, dim]``; ``shared_prefix[layer]`` the prefix's ``([kv_heads, p, dim], [kv_heads, p, dim])``;
    ``attention_mask`` (bool, True = attend) over the own columns. Returns ``[rows, 1, heads, dim]``."""
    if shared_prefix is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    rows, heads, q_len, dim = query.shape
    if q_len != 1:
        raise ValueError("shared-prefix attention runs decode steps (one query per row) only")
    prefix_keys, prefix_values = shared_prefix[module.layer_idx]
    kv_heads = key.shape[1]
    group = heads // kv_heads  # query heads per key/value head, as repeat_kv pairs them
    scale = scaling if scaling is not None else dim ** -0.5
    q = query.reshape(rows, kv_heads, group, dim)
    # [kv_heads, rows * group, p]: one product per key/value head reads the prefix once for all rows.
    prefix_scores = torch.matmul(q.transpose(0, 1).reshape(kv_heads, rows * group, dim), prefix_keys.transpose(1, 2))
    prefix_scores = prefix_scores.reshape(kv_heads, rows, group, -1).transpose(0, 1) * scale
    # keys @ queries^T: one matrix-vector pass over each row's keys (queries @ keys^T, an M=group product,
    # took ~2x the time of reading the keys once the weights had pushed them out of the cache)
    own_scores = torch.matmul(key, q.transpose(2, 3)).transpose(2, 3) * scale  # [rows, kv_heads, group, n]
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            own_scores = own_scores.masked_fill(~attention_mask.reshape(rows, 1, 1, -1), float("-inf"))
        else:
            own_scores = own_scores + attention_mask.reshape(rows, 1, 1, -1)
    weights = torch.cat([prefix_scores, own_scores], dim=-1).softmax(-1, dtype=torch.float32).to(query.dtype)
    p = prefix_keys.shape[1]
    prefix_weights = weights[..., :p].transpose(0, 1).reshape(kv_heads, rows * group, p)
    out = torch.matmul(prefix_weights, prefix_values).reshape(kv_heads, rows, group, dim).transpose(0, 1)
    out = out + torch.matmul(weights[..., p:], value)
    return out.reshape(rows, heads, 1, dim).transpose(1, 2).contiguous(), None
