"""A Llama decode step without transformers' module machinery, for the continuous batcher.

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


def plain_linear(layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, layer.weight, layer.bias)


PACK_LIMIT_BYTES = 2 << 30  # packed copies live beside the weights for one decode call


class PackedLinears:
    """The model's ``nn.Linear`` products through oneDNN, weights packed once per decode call.

    On this project's AMD CPU (AVX-512), oneDNN with packed weights ran the 56 products of a 16-row
    step of the issue-19 bench model in 8.8-10.5 ms against MKL's (``F.linear``) 13.5-14.0 ms. Its
    sums are ordered differently, so logits differ from the forward's in the last bits (prefill and
    the fallback keep MKL). Only for float32 CPU weights (other dtypes already take oneDNN in torch)
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
        attn, mlp = layer.self_attn, layer.mlp
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
        residual = hidden
        hidden = _rms_norm(layer.post_attention_layernorm, hidden)
        hidden = residual + linear(mlp.down_proj, mlp.act_fn(linear(mlp.gate_proj, hidden)) * linear(mlp.up_proj, hidden))
    return linear(model.lm_head, _rms_norm(inner.norm, hidden))
