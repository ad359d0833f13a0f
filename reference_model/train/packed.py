"""The training model's forward over packed rows: positions restart and attention stays inside each
sequence, so a packed row computes exactly what each of its sequences computes alone.

``segments`` numbers the sequences of a row; a token attends to earlier tokens of its own segment
only (block-diagonal causal mask), and RoPE uses each token's position within its sequence.
"""
from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F

from ..model import Attention, Block, Transformer, apply_rope, rope_cache


def _attention(attn: Attention, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
               mask: torch.Tensor) -> torch.Tensor:
    b, t, _ = x.shape
    qkv = attn.wqkv(x).view(b, t, attn.n_kv, attn.n_rep + 2, attn.hd)
    q = qkv[:, :, :, : attn.n_rep].reshape(b, t, attn.n_heads, attn.hd).transpose(1, 2)
    k = qkv[:, :, :, -2].transpose(1, 2)
    v = qkv[:, :, :, -1].transpose(1, 2)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    if attn.n_rep > 1:
        k = k.repeat_interleave(attn.n_rep, dim=1)
        v = v.repeat_interleave(attn.n_rep, dim=1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return attn.wo(out.transpose(1, 2).reshape(b, t, attn.n_heads * attn.hd))


def packed_logits(model: Transformer, tokens: torch.Tensor, positions: torch.Tensor,
                  segments: torch.Tensor) -> torch.Tensor:
    """Logits (b, t, vocab) of ``tokens`` (b, t) with per-token ``positions`` and ``segments``."""
    cfg = model.cfg
    cos_all, sin_all = rope_cache(cfg, int(positions.max()) + 1, tokens.device)
    h = model.tok_embeddings(tokens)
    cos, sin = cos_all[positions].unsqueeze(1).to(h.dtype), sin_all[positions].unsqueeze(1).to(h.dtype)
    t = tokens.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=tokens.device).tril()
    mask = (causal & (segments[:, :, None] == segments[:, None, :])).unsqueeze(1)
    for layer in cast(list[Block], model.layers):
        h = h + _attention(layer.attention, layer.attention_norm(h), cos, sin, mask)
        h = h + layer.feed_forward(layer.ffn_norm(h))
    return model.output(model.norm(h))


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) per position, in float32 (targets < 0 give 0)."""
    logp = logits.float().log_softmax(-1)
    picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return picked.masked_fill(targets < 0, 0.0)
