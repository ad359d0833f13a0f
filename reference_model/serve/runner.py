"""One forward step of the training model over a mixed batch, with a paged KV cache.

The step's tokens (every scheduled sequence's chunk, concatenated) go through the per-token work
(norms, projections, MLP) as one (T, hidden) matrix: this is what batching buys. Keys and values
are written into the cache slots of their sequence's blocks; attention then reads each sequence's
cache: decoding sequences (one query each) together, their block tables padded and masked;
each prefill chunk on its own (a chunk starting at position 0 attends to its own keys only).
Logits are computed only for the rows the engine asks for.

The cache is laid out KV-head first, ``(layers, kv_heads, slots, head_dim)``: gathering a batch's
blocks then yields ``(kv_heads, batch, keys, head_dim)`` with each sequence's keys contiguous, which
attention reads as it is (no transposing copy), and the query heads sharing a KV head attend as
that head's group of queries (no copies of the keys per query head). On a CPU these copies were
most of a 32-sequence decode step.

The decoding sequences' gathered keys and values are kept between steps (``DecodeKV``): while the
same sequences decode in the same rows, a step only appends its new token's keys and values to
them; any change of the rows (a sequence joining, leaving or preempted, a row past the room left)
gathers them afresh from the cache, with room for a few more blocks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F

from ..model import Block, Transformer, apply_rope, rope_cache

ROOM = 64  # positions kept free after the decoding rows' gathered keys (a rebuild at most every 64 steps)


@dataclass
class Prefill:
    row: int    # first row of the chunk in the step's token matrix
    count: int  # tokens in the chunk
    start: int  # position of its first token
    table: torch.Tensor  # the sequence's block ids (long)


@dataclass
class StepInput:
    tokens: torch.Tensor      # (T,) long
    positions: torch.Tensor   # (T,) long
    slots: torch.Tensor       # (T,) cache slot of each token: block * block_size + offset
    decode_rows: torch.Tensor  # (B,) rows of the decoding sequences' tokens
    decode_tables: torch.Tensor  # (B, max_blocks) padded block tables
    decode_lens: torch.Tensor  # (B,) tokens in cache after this step (keys to attend to)
    prefills: list[Prefill]
    logit_rows: torch.Tensor  # rows whose logits come back
    decode_ids: tuple[int, ...] = ()  # the decoding sequences, row by row


@dataclass
class DecodeKV:
    """The decoding rows' keys and values per layer, ``(kv_heads, B, room, head_dim)``, as of ``lens``."""
    ids: tuple[int, ...]
    tables: torch.Tensor  # (B, width) the block tables they were gathered from
    lens: torch.Tensor    # (B,) keys held per row
    block_size: int
    keys: list[torch.Tensor]
    values: list[torch.Tensor]

    def follows(self, inp: StepInput) -> bool:
        """Whether ``inp`` decodes the same sequences in the same rows, one token further, within the room,
        on the blocks the kept keys came from."""
        if inp.decode_ids != self.ids or not torch.equal(inp.decode_lens, self.lens + 1):
            return False
        width = self.tables.shape[1]
        if int(inp.decode_lens.max()) > self.keys[0].shape[2] or inp.decode_tables.shape[1] < width:
            return False
        used = torch.arange(width).unsqueeze(0) < (self.lens.unsqueeze(1) + self.block_size - 1) // self.block_size
        return bool(((inp.decode_tables[:, :width] == self.tables) | ~used).all())


class ModelRunner:
    def __init__(self, model: Transformer, n_blocks: int, block_size: int, max_model_len: int):
        self.model = model.eval()
        cfg = model.cfg
        self.cfg, self.n_blocks, self.block_size = cfg, n_blocks, block_size
        dtype = next(model.parameters()).dtype
        shape = (cfg.n_layers, cfg.n_kv_heads, n_blocks * block_size, cfg.head_dim)
        self.k_cache = torch.zeros(shape, dtype=dtype)
        self.v_cache = torch.zeros(shape, dtype=dtype)
        cos, sin = rope_cache(cfg, max_model_len)
        self.cos, self.sin = cos.to(dtype), sin.to(dtype)
        self.decode_kv: DecodeKV | None = None

    def cache_bytes(self) -> int:
        return 2 * self.k_cache.numel() * self.k_cache.element_size()

    @torch.inference_mode()
    def forward(self, inp: StepInput) -> torch.Tensor:
        m, cfg = self.model, self.cfg
        cos, sin = self.cos[inp.positions].unsqueeze(1), self.sin[inp.positions].unsqueeze(1)
        h = m.tok_embeddings(inp.tokens)
        kept, self.decode_kv = self.decode_kv, None  # set again once every layer has run
        decoding = len(inp.decode_rows) > 0
        append = decoding and kept is not None and kept.follows(inp)
        state = kept if append and kept is not None else DecodeKV(inp.decode_ids, inp.decode_tables, inp.decode_lens,
                                                                   self.block_size, [], [])
        for layer_index, layer in enumerate(cast(list[Block], m.layers)):
            attn = layer.attention
            x = layer.attention_norm(h)
            qkv = attn.wqkv(x).view(-1, attn.n_kv, attn.n_rep + 2, attn.hd)
            q = apply_rope(qkv[:, :, : attn.n_rep].reshape(-1, cfg.n_heads, attn.hd), cos, sin)
            k = apply_rope(qkv[:, :, -2], cos, sin)
            v = qkv[:, :, -1]
            k_cache, v_cache = self.k_cache[layer_index], self.v_cache[layer_index]
            k_cache.index_copy_(1, inp.slots, k.transpose(0, 1))
            v_cache.index_copy_(1, inp.slots, v.transpose(0, 1))
            out = torch.empty_like(q)
            if decoding:
                dec = inp.decode_rows
                out[dec] = self._decode_attention(q[dec], k[dec], v[dec], k_cache, v_cache, inp, state, layer_index,
                                                  append)
            for p in inp.prefills:
                rows = slice(p.row, p.row + p.count)
                out[rows] = self._prefill_attention(q[rows], k[rows], v[rows], k_cache, v_cache, p)
            h = h + attn.wo(out.reshape(-1, cfg.n_heads * attn.hd))
            h = h + layer.feed_forward(layer.ffn_norm(h))
        if decoding:
            state.tables, state.lens = inp.decode_tables, inp.decode_lens
            self.decode_kv = state
        return m.output(m.norm(h[inp.logit_rows]))

    def _paged(self, cache: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
        """(kv_heads, B, blocks * block_size, head_dim): the tables' blocks of one layer's cache, one
        index_select over (kv_heads, blocks, block_size * head_dim) (~5x faster than advanced indexing)."""
        b, nb = tables.shape
        kv, hd = self.cfg.n_kv_heads, self.cfg.head_dim
        blocks = torch.index_select(cache.view(kv, self.n_blocks, -1), 1, tables.reshape(-1))
        return blocks.view(kv, b, nb * self.block_size, hd)

    def _decode_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, k_cache: torch.Tensor,
                          v_cache: torch.Tensor, inp: StepInput, state: DecodeKV, layer: int,
                          append: bool) -> torch.Tensor:
        b, kv = q.shape[0], self.cfg.n_kv_heads
        if append:  # the same rows one token on: only the new keys and values go in
            keys, values = state.keys[layer], state.values[layer]
            rows, at = torch.arange(b), inp.decode_lens - 1
            keys[:, rows, at] = k.transpose(0, 1)
            values[:, rows, at] = v.transpose(0, 1)
        else:
            keys, values = self._with_room(self._paged(k_cache, inp.decode_tables)), \
                self._with_room(self._paged(v_cache, inp.decode_tables))
            state.keys.append(keys)
            state.values.append(values)
        n = int(inp.decode_lens.max())
        mask = torch.arange(n).unsqueeze(0) < inp.decode_lens.unsqueeze(1)  # (B, n)
        # Query head h reads KV head h // n_rep: per KV head, its n_rep query heads are n_rep queries.
        groups = q.view(b, kv, -1, q.shape[-1]).transpose(0, 1)  # (kv, B, n_rep, head_dim)
        out = F.scaled_dot_product_attention(groups, keys[:, :, :n], values[:, :, :n], attn_mask=mask[None, :, None, :])
        return out.transpose(0, 1).reshape(b, -1, q.shape[-1])

    def _with_room(self, gathered: torch.Tensor) -> torch.Tensor:
        """``gathered`` with ROOM more positions, so that the next steps' keys are appended in place. The room
        is zeros, not uninitialised memory: a shorter row's masked positions there still enter attention's
        products with weight 0, and 0 * NaN would be NaN."""
        kv, b, n, hd = gathered.shape
        out = gathered.new_empty(kv, b, n + ROOM, hd)
        out[:, :, :n] = gathered
        out[:, :, n:] = 0
        return out

    def _prefill_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, k_cache: torch.Tensor,
                           v_cache: torch.Tensor, p: Prefill) -> torch.Tensor:
        q4 = q.transpose(0, 1).unsqueeze(0)  # (1, heads, count, head_dim)
        if p.start == 0:
            out = F.scaled_dot_product_attention(q4, k.transpose(0, 1).unsqueeze(0), v.transpose(0, 1).unsqueeze(0),
                                                 is_causal=True, enable_gqa=True)
        else:
            total = p.start + p.count
            table = p.table[: -(-total // self.block_size)].unsqueeze(0)
            keys = self._paged(k_cache, table)[:, :, :total].transpose(0, 1)  # (1, kv_heads, total, head_dim)
            values = self._paged(v_cache, table)[:, :, :total].transpose(0, 1)
            mask = torch.arange(total).unsqueeze(0) <= (p.start + torch.arange(p.count)).unsqueeze(1)
            out = F.scaled_dot_product_attention(q4, keys, values, attn_mask=mask[None, None], enable_gqa=True)
        return out.squeeze(0).transpose(0, 1)
