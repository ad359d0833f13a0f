"""A Llama decode step (and a prefill) without transformers' module machinery, for the continuous batcher.

Transformers' per-module dispatch, mask building and output bookkeeping are a fixed cost per step,
large next to a small model's matrix products on a CPU (5% of the decode of the 19M-parameter
issue-19 bench model, 15% of the demo model's). This step runs the same torch operations, in the
same order and on the same weights, as ``LlamaForCausalLM.forward`` with the shared-prefix
attention (``hf_attention.py``), so its logits are bitwise equal (tests/test_hf_generate.py
compares them at every step) when its products are ``plain_linear``. The continuous batcher
passes ``PackedLinears`` where it can: faster, equal to rounding. It applies only where every
module is exactly a class it reproduces (``supports``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.models.llama import modeling_llama as llama

from compass.models.hf_attention import shared_prefix_attention

_MODULES = (llama.LlamaForCausalLM, llama.LlamaModel, torch.nn.ModuleList, torch.nn.Embedding, torch.nn.Linear,
            llama.LlamaDecoderLayer, llama.LlamaAttention, llama.LlamaMLP, llama.LlamaRMSNorm,
            llama.LlamaRotaryEmbedding)


def supports(model) -> bool:
    """Only exactly these module classes (a subclass, a quantized or adapter layer may compute
    something else; the activation is called as it is), with no hooks (accelerate's device maps and
    offloading move weights in them), in eval mode."""
    if type(model) is not llama.LlamaForCausalLM or model.training:
        return False
    activations = {id(layer.mlp.act_fn) for layer in model.model.layers}
    return (len(model.model.layers) == model.config.num_hidden_layers
            and all((type(m) in _MODULES or id(m) in activations) and not hasattr(m, "_hf_hook")
                    and not m._forward_hooks and not m._forward_pre_hooks for m in model.modules()))


def _rms_norm(norm: llama.LlamaRMSNorm, hidden: torch.Tensor) -> torch.Tensor:
    input_dtype = hidden.dtype
    hidden = hidden.to(torch.float32)
    variance = hidden.pow(2).mean(-1, keepdim=True)
    hidden = hidden * torch.rsqrt(variance + norm.variance_epsilon)
    return norm.weight * hidden.to(input_dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return (x * cos) + (torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin)


def _feed_forward(layer: llama.LlamaDecoderLayer, hidden: torch.Tensor, linear) -> torch.Tensor:
    """A decoder layer's second half, norm, gated MLP and residual, as ``LlamaDecoderLayer`` runs it."""
    mlp = layer.mlp
    normed = _rms_norm(layer.post_attention_layernorm, hidden)
    return hidden + linear(mlp.down_proj, mlp.act_fn(linear(mlp.gate_proj, normed)) * linear(mlp.up_proj, normed))


def plain_linear(layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, layer.weight, layer.bias)


PACK_LIMIT_BYTES = 2 << 30  # packed copies live beside the weights for one decode call


class PackedLinears:
    """The model's ``nn.Linear`` products through oneDNN, weights packed once per decode call.

    On this project's AMD CPU (AVX-512), oneDNN with packed weights ran the 56 products of a 16-row
    step of the issue-19 bench model in 8.8-10.5 ms against MKL's (``F.linear``) 13.5-14.0 ms. Its
    sums are ordered differently, so logits differ from the forward's in the last bits (the
    fallback keeps MKL). Only for float32 CPU weights (other dtypes already take oneDNN in torch)
    and up to ``PACK_LIMIT_BYTES`` of them: the packed copies live beside the weights, and a fixed
    limit keeps the kernel, and so the bits, independent of the machine's free memory."""

    def __init__(self, model, rows: int):
        linears = [m for m in model.modules() if type(m) is torch.nn.Linear]
        self.packed = {id(m): torch.ops.mkldnn._reorder_linear_weight(m.weight.detach(), rows) for m in linears}

    @staticmethod
    def available(model) -> bool:
        weights = [m.weight for m in model.modules() if type(m) is torch.nn.Linear]
        return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
                and all(w.dtype == torch.float32 and w.device.type == "cpu" for w in weights)
                and sum(w.numel() * w.element_size() for w in weights) <= PACK_LIMIT_BYTES)

    def __call__(self, layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
        flat = torch.ops.mkldnn._linear_pointwise(x.reshape(-1, x.shape[-1]), self.packed[id(layer)], layer.bias,
                                                  "none", [], "")
        return flat.view(*x.shape[:-1], flat.shape[-1])


def decode_step(model, input_ids: torch.Tensor, position_ids: torch.Tensor, cache, mask: torch.Tensor,
                shared_prefix: list[tuple[torch.Tensor, torch.Tensor]], linear=plain_linear) -> torch.Tensor:
    """Logits ``[rows, 1, vocab]`` for one token per row (``input_ids``, ``position_ids``: ``[rows, 1]``).

    ``cache``: a ``DynamicCache`` of each row's own columns, updated in place; ``mask``: bool
    ``[rows, columns after the update]``, True where a row attends; ``shared_prefix``: per layer
    the prefix's keys and values, read once for all rows; ``linear(layer, x)``: the weight products
    (``plain_linear``, as the model computes them, or ``PackedLinears``)."""
    inner = model.model
    hidden = inner.embed_tokens(input_ids)
    cos, sin = inner.rotary_emb(hidden, position_ids=position_ids)
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    mask = mask[:, None, None, :]
    rows = input_ids.shape[0]
    for index, layer in enumerate(inner.layers):
        attn = layer.self_attn
        residual = hidden
        hidden = _rms_norm(layer.input_layernorm, hidden)
        shape = (rows, 1, -1, attn.head_dim)
        query = linear(attn.q_proj, hidden).view(shape).transpose(1, 2)
        key = linear(attn.k_proj, hidden).view(shape).transpose(1, 2)
        value = linear(attn.v_proj, hidden).view(shape).transpose(1, 2)
        query, key = _rotate(query, cos, sin), _rotate(key, cos, sin)
        key, value = cache.layers[index].update(key, value)
        out, _ = shared_prefix_attention(attn, query, key, value, mask, scaling=attn.scaling,
                                         shared_prefix=shared_prefix)
        hidden = residual + linear(attn.o_proj, out.reshape(rows, 1, -1).contiguous())
        hidden = _feed_forward(layer, hidden, linear)
    return linear(model.lm_head, _rms_norm(inner.norm, hidden))


@dataclass
class Columns:
    """One layer's keys and values from ``prefill``: ``[rows, kv_heads, width, dim]``, each row's own
    columns last (left-padded), where ``SlotCache.place`` reads them."""
    keys: torch.Tensor
    values: torch.Tensor


@dataclass
class Prefilled:
    layers: list[Columns]


def prefill(model, suffixes: list[list[int]], start: int, shared_prefix: list[tuple[torch.Tensor, torch.Tensor]],
            linear) -> tuple[Prefilled, torch.Tensor]:
    """Prompt suffixes after a shared prefix of ``start`` tokens: every row's keys and values, and
    its last token's logits ``[rows, vocab]``.

    The model's forward would take the suffixes left-padded to the longest, with the prefix's
    cache copied for every row. Here the weight products run over the rows' tokens packed one
    after another (no padding), and attention reads the prefix once for all rows, as the decode
    step does. The same sums in another order: equal to rounding, so the decoder uses it with
    ``PackedLinears`` only, never where it promises the forward's bits."""
    inner = model.model
    device = model.lm_head.weight.device
    lengths = [len(s) for s in suffixes]
    rows, width, tokens = len(suffixes), max(lengths), sum(lengths)
    # Where each packed token sits in the left-padded [rows, width] grid that attention uses.
    grid = torch.tensor([b * width + width - n + i for b, n in enumerate(lengths) for i in range(n)], device=device)
    positions = torch.tensor([start + i for n in lengths for i in range(n)], device=device)
    hidden = inner.embed_tokens(torch.tensor([t for s in suffixes for t in s], device=device))
    cos, sin = inner.rotary_emb(hidden[None], position_ids=positions[None])
    cos, sin = cos[0].unsqueeze(1), sin[0].unsqueeze(1)
    columns = torch.arange(width, device=device)
    real = columns[None, :] >= (width - torch.tensor(lengths, device=device))[:, None]  # [rows, key]
    own_mask = real[:, None, :] & (columns[:, None] >= columns[None, :])[None]  # [rows, query, key]: causal
    layers = []
    for index, layer in enumerate(inner.layers):
        attn = layer.self_attn
        residual = hidden
        hidden = _rms_norm(layer.input_layernorm, hidden)
        shape = (tokens, -1, attn.head_dim)
        query = _rotate(linear(attn.q_proj, hidden).view(shape), cos, sin)
        key = _rotate(linear(attn.k_proj, hidden).view(shape), cos, sin)
        value = linear(attn.v_proj, hidden).view(shape)
        key, value = _on_grid(key, grid, rows, width), _on_grid(value, grid, rows, width)
        out = _prefill_attention(_on_grid(query, grid, rows, width), key, value, own_mask, shared_prefix[index],
                                 attn.scaling)
        hidden = residual + linear(attn.o_proj, out.transpose(1, 2).reshape(rows * width, -1)[grid])
        hidden = _feed_forward(layer, hidden, linear)
        layers.append(Columns(key, value))
    last = torch.tensor(lengths, device=device).cumsum(0) - 1
    return Prefilled(layers), linear(model.lm_head, _rms_norm(inner.norm, hidden[last]))


def _on_grid(packed: torch.Tensor, grid: torch.Tensor, rows: int, width: int) -> torch.Tensor:
    """``[tokens, heads, dim]`` packed -> ``[rows, heads, width, dim]`` left-padded with zeros."""
    out = packed.new_zeros((rows * width,) + packed.shape[1:])
    out[grid] = packed
    return out.view(rows, width, *packed.shape[1:]).transpose(1, 2)


def _prefill_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, own_mask: torch.Tensor,
                       prefix: tuple[torch.Tensor, torch.Tensor], scale: float) -> torch.Tensor:
    """``shared_prefix_attention`` for many queries per row: ``query`` ``[rows, heads, w, dim]``,
    ``key``/``value`` ``[rows, kv_heads, w, dim]``, ``own_mask`` ``[rows, w, w]`` (True = attend),
    ``prefix`` ``([kv_heads, p, dim], [kv_heads, p, dim])``. Returns ``[rows, heads, w, dim]``."""
    rows, heads, w, dim = query.shape
    kv_heads = key.shape[1]
    group = heads // kv_heads  # query heads per key/value head, as repeat_kv pairs them
    prefix_keys, prefix_values = prefix
    p = prefix_keys.shape[1]
    q = query.reshape(rows, kv_heads, group * w, dim)
    prefix_scores = torch.matmul(q.transpose(0, 1).reshape(kv_heads, rows * group * w, dim), prefix_keys.transpose(1, 2))
    prefix_scores = prefix_scores.reshape(kv_heads, rows, group * w, p).transpose(0, 1) * scale
    own_scores = (torch.matmul(q, key.transpose(2, 3)) * scale).view(rows, kv_heads, group, w, w)
    own_scores = own_scores.masked_fill(~own_mask[:, None, None], float("-inf")).view(rows, kv_heads, group * w, w)
    weights = torch.cat([prefix_scores, own_scores], dim=-1).softmax(-1, dtype=torch.float32).to(query.dtype)
    prefix_weights = weights[..., :p].transpose(0, 1).reshape(kv_heads, rows * group * w, p)
    out = torch.matmul(prefix_weights, prefix_values).reshape(kv_heads, rows, group * w, dim).transpose(0, 1)
    out = out + torch.matmul(weights[..., p:], value)
    return out.reshape(rows, heads, w, dim)
