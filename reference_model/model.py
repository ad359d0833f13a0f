"""Decoder-only transformer: RMSNorm, RoPE, GQA, SwiGLU, InternLM2-style fused interleaved Wqkv.

The fused ``wqkv`` weight stores, for each KV group g, that group's query heads, then its key head,
then its value head (rows of ``head_dim`` each).  Query head ``g * n_rep + j`` therefore shares KV
head ``g``, which is the same grouping Hugging Face's ``repeat_kv`` assumes, so export only has to
slice rows.  RoPE uses the rotate-half (GPT-NeoX / HF Llama) convention, so no permutation is
needed when exporting to ``LlamaForCausalLM``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelConfig:
    vocab_size: int = 2048
    hidden_size: int = 256
    n_layers: int = 4
    n_heads: int = 8
    n_kv_heads: int = 4
    intermediate_size: int = 0  # 0: SwiGLU default, 8/3 * hidden rounded up to a multiple of 64
    max_seq_len: int = 512
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = True
    init_std: float = 0.02

    def __post_init__(self):
        if self.intermediate_size <= 0:
            self.intermediate_size = 64 * math.ceil(8 * self.hidden_size / 3 / 64)
        if self.hidden_size % self.n_heads or self.n_heads % self.n_kv_heads:
            raise ValueError("hidden_size must divide by n_heads and n_heads by n_kv_heads")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# Named sizes. vocab_size is overridden by the tokenizer at train time.
CONFIGS: dict[str, dict] = {
    "tiny": dict(hidden_size=64, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=128),  # tests
    "demo-3m": dict(hidden_size=192, n_layers=5, n_heads=6, n_kv_heads=2, max_seq_len=256),
    "small-5m": dict(hidden_size=256, n_layers=6, n_heads=8, n_kv_heads=4, max_seq_len=512),
    "base-25m": dict(hidden_size=512, n_layers=8, n_heads=8, n_kv_heads=4, max_seq_len=1024),
    "medium-120m": dict(hidden_size=768, n_layers=12, n_heads=12, n_kv_heads=4, max_seq_len=1024,
                        tie_embeddings=False),
    "large-350m": dict(hidden_size=1024, n_layers=24, n_heads=16, n_kv_heads=8, max_seq_len=1024,
                       tie_embeddings=False),
    "xl-1b": dict(hidden_size=2048, n_layers=16, n_heads=16, n_kv_heads=8, max_seq_len=2048,
                  tie_embeddings=False),
}


def named_config(name: str, **overrides) -> ModelConfig:
    if name not in CONFIGS:
        raise ValueError(f"unknown model config {name!r}; known: {', '.join(CONFIGS)}")
    return ModelConfig(**{**CONFIGS[name], **overrides})


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in fp32 and cast back before the gain, exactly as HF Llama does (bit-match on export).
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rope_cache(cfg: ModelConfig, seq_len: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32, device=device)
                                          / cfg.head_dim))
    t = torch.arange(seq_len, dtype=torch.float32, device=device)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)  # rotate-half layout: first half pairs with second half
    return emb.cos(), emb.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv, self.hd = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.n_rep = cfg.n_heads // cfg.n_kv_heads
        self.wqkv = nn.Linear(cfg.hidden_size, (cfg.n_heads + 2 * cfg.n_kv_heads) * self.hd, bias=False)
        self.wo = nn.Linear(cfg.n_heads * self.hd, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        qkv = self.wqkv(x).view(b, t, self.n_kv, self.n_rep + 2, self.hd)
        q = qkv[:, :, :, : self.n_rep].reshape(b, t, self.n_heads, self.hd).transpose(1, 2)
        k = qkv[:, :, :, -2].transpose(1, 2)
        v = qkv[:, :, :, -1].transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.n_rep > 1:  # expand KV heads so SDPA works on every torch version (enable_gqa is 2.5+)
            k = k.repeat_interleave(self.n_rep, dim=1)
            v = v.repeat_interleave(self.n_rep, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.wo(out.transpose(1, 2).reshape(b, t, self.n_heads * self.hd))


class FeedForward(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.w1 = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)  # gate
        self.w3 = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)  # up
        self.w2 = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)  # down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attention_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.feed_forward = FeedForward(cfg)

    def forward(self, x, cos, sin):
        x = x + self.attention(self.attention_norm(x), cos, sin)
        return x + self.feed_forward(self.ffn_norm(x))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.output = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.output.weight = self.tok_embeddings.weight
        self.reset_parameters()

    def reset_parameters(self):
        # GPT-2 style: normal(0, std), residual output projections scaled by 1/sqrt(2 * n_layers).
        std = self.cfg.init_std
        for name, p in self.named_parameters():
            if p.dim() == 1:
                nn.init.ones_(p)
            elif name.endswith(("wo.weight", "w2.weight")):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.cfg.n_layers))
            else:
                nn.init.normal_(p, 0.0, std)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.shape[1]
        cos, sin = rope_cache(self.cfg, t, tokens.device)
        h = self.tok_embeddings(tokens)
        cos, sin = cos.to(h.dtype), sin.to(h.dtype)
        for layer in self.layers:
            h = layer(h, cos, sin)
        return self.output(self.norm(h))

    def num_params(self, exclude_embeddings: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        if exclude_embeddings and not self.cfg.tie_embeddings:
            n -= self.tok_embeddings.weight.numel()
        return n

    def flops_per_token(self, seq_len: int) -> float:
        """Training FLOPs per token: 6 * N_matmul + 12 * n_layers * hidden * seq_len (PaLM, app. B).

        N_matmul counts every weight used in a matmul (all but the input embedding lookup, which
        is free; a tied output head is counted once as the LM head); the second term is attention
        scores and weighted values (forward + backward, no causal discount).
        """
        c = self.cfg
        n_matmul = sum(p.numel() for p in self.parameters()) - self.tok_embeddings.weight.numel()
        n_matmul += c.vocab_size * c.hidden_size if c.tie_embeddings else 0
        n_matmul -= sum(p.numel() for p in self.parameters() if p.dim() == 1)
        return 6.0 * n_matmul + 12.0 * c.n_layers * c.hidden_size * seq_len

    @torch.no_grad()
    def generate(self, tokens: torch.Tensor, max_new_tokens: int, eos_ids: tuple[int, ...] = ()) -> torch.Tensor:
        """Greedy decoding without KV cache (tests and quick checks only); stops once all rows hit EOS."""
        for _ in range(max_new_tokens):
            logits = self(tokens[:, -self.cfg.max_seq_len:])
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            tokens = torch.cat([tokens, nxt], dim=1)
            if eos_ids and bool(torch.isin(nxt, torch.tensor(eos_ids)).all()):
                break
        return tokens
