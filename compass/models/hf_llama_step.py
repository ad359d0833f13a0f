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


class PlainLinears:
    """The weight products as the model computes them: ``F.linear``, one projection at a time."""

    def __call__(self, layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, layer.weight, layer.bias)

    def group(self, layers: tuple[torch.nn.Linear, ...], x: torch.Tensor) -> list[torch.Tensor]:
        """Each projection of ``x`` by these layers (that all read it)."""
        return [self(layer, x) for layer in layers]


plain_linear = PlainLinears()
PACK_LIMIT_BYTES = 2 << 30  # packed copies live beside the weights for one decode call


class PackedLinears(PlainLinears):
    """The model's ``nn.Linear`` products through oneDNN, weights packed once per decode call.

    On this project's AMD CPU (AVX-512), oneDNN with packed weights ran the 56 products of a 16-row
    step of the issue-19 bench model in 8.8-10.5 ms against MKL's (``F.linear``) 13.5-14.0 ms. Its
    sums are ordered differently, so logits differ from the forward's in the last bits (prefill and
    the fallback keep MKL). Projections reading the same input (a layer's query, key and value; its
    gate and up) are one product over their stacked weights: fewer, wider products, ~5% less time.
    Only for float32 CPU weights (other dtypes already take oneDNN in torch) and up to
    ``PACK_LIMIT_BYTES`` of them: the packed copies live beside the weights, and a fixed limit keeps
    the kernel, and so the bits, independent of the machine's free memory."""

    def __init__(self, model, rows: int):
        def pack(weight: torch.Tensor) -> torch.Tensor:
            return torch.ops.mkldnn._reorder_linear_weight(weight.detach(), rows)

        self.stacked: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor | None, list[int]]] = {}
        for layers in _input_sharing(model):
            weights = [m.weight for m in layers]
            bias = None if all(m.bias is None for m in layers) else torch.cat(
                [m.bias.detach() if m.bias is not None else m.weight.new_zeros(m.out_features) for m in layers])
            self.stacked[tuple(map(id, layers))] = (pack(torch.cat(weights)), bias, [w.shape[0] for w in weights])
        grouped = {id(m) for layers in _input_sharing(model) for m in layers}
        self.packed = {id(m): pack(m.weight) for m in model.modules() if type(m) is torch.nn.Linear and id(m) not in grouped}

    @staticmethod
    def available(model) -> bool:
        weights = [m.weight for m in model.modules() if type(m) is torch.nn.Linear]
        return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
                and all(w.dtype == torch.float32 and w.device.type == "cpu" for w in weights)
                and sum(w.numel() * w.element_size() for w in weights) <= PACK_LIMIT_BYTES)

    def __call__(self, layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
        return _product(x, self.packed[id(layer)], layer.bias)

    def group(self, layers: tuple[torch.nn.Linear, ...], x: torch.Tensor) -> list[torch.Tensor]:
        packed, bias, sizes = self.stacked[tuple(map(id, layers))]
        return list(_product(x, packed, bias).split(sizes, dim=-1))


def _product(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    flat = torch.ops.mkldnn._linear_pointwise(x.reshape(-1, x.shape[-1]), packed, bias, "none", [], "")
    return flat.view(*x.shape[:-1], flat.shape[-1])


def _input_sharing(model) -> list[tuple[torch.nn.Linear, ...]]:
    """Per decoder layer of a Llama, the projections that read the same input."""
    layers = getattr(getattr(model, "model", None), "layers", None) or []
    return [group for layer in layers for group in (
        (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj), (layer.mlp.gate_proj, layer.mlp.up_proj))]


def decode_step(model, input_ids: torch.Tensor, position_ids: torch.Tensor, cache, mask: torch.Tensor,
                shared_prefix: list[tuple[torch.Tensor, torch.Tensor]], linear: PlainLinears = plain_linear) -> torch.Tensor:
    """Logits ``[rows, 1, vocab]`` for one token per row (``input_ids``, ``position_ids``: ``[rows, 1]``).

    ``cache``: a ``DynamicCache`` of each row's own columns, updated in place; ``mask``: bool
    ``[rows, columns after the update]``, True where a row attends; ``shared_prefix``: per layer
    the prefix's keys and values, read once for all rows; ``linear``: the weight products
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
        query, key, value = (t.view(shape).transpose(1, 2) for t in linear.group((attn.q_proj, attn.k_proj, attn.v_proj), hidden))
        query, key = _rotate(query, cos, sin), _rotate(key, cos, sin)
        key, value = cache.layers[index].update(key, value)
        out, _ = shared_prefix_attention(attn, query, key, value, mask, scaling=attn.scaling,
                                         shared_prefix=shared_prefix)
        hidden = residual + linear(attn.o_proj, out.reshape(rows, 1, -1).contiguous())
        residual = hidden
        hidden = _rms_norm(layer.post_attention_layernorm, hidden)
        gate, up = linear.group((mlp.gate_proj, mlp.up_proj), hidden)
        hidden = residual + linear(mlp.down_proj, mlp.act_fn(gate) * up)
    return linear(model.lm_head, _rms_norm(inner.norm, hidden))
