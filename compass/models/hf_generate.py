"""Generation for the transformers backend: greedy or seeded sampled decoding, continuously batched.

``decode`` keeps up to ``slots`` rows in flight. A row that ends (EOS, a stop string, its token
budget) frees its slot, and the next waiting prompt is prefilled and joins the running batch at
the next step, instead of the slot idling until the longest row of a fixed batch ends. Each
row's tokens depend only on its own prompt (and its own seed when sampling): explicit
positions, a mask hiding every other row's columns, and a KV cache row of its own
(``hf_slots.py``).

The last rows of a call can share the slots (``_sharing``): a row is set aside with its cache
columns and resumed later, so that rows running to the length cap end together instead of a few
of them running alone at the end while the other slots idle.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers import LogitsProcessor

from compass.models import hf_llama_step
from compass.models.base import Completion, cut_at_stop
from compass.models.hf_attention import can_share_prefix, sharing_prefix
from compass.models.hf_slots import SLACK, SlotCache
from compass.models.kv_prefix import (
    MIN_SHARED_PREFIX,
    cache_of,
    common_prefix,
    expand_cache,
    last_logits_only,
    prefix_cache,
    with_cache,
)


@dataclass
class _Row:
    index: int  # into the prompt list
    own: int  # prompt tokens after the shared prefix (at least 1)
    tokens: list[int] = field(default_factory=list)  # generated so far

    @property
    def used(self) -> int:
        """Own cache columns: the prompt suffix and every generated token already fed."""
        return self.own + len(self.tokens) - 1


@dataclass
class _Parked:
    """A row set aside to let a row further behind have its slot, with its own cache columns."""
    row: _Row
    columns: list[tuple[torch.Tensor, torch.Tensor]]


SHARE_QUANTUM = 8  # decode steps between reassigning shared slots; a swap copies a row's columns twice


@torch.inference_mode()  # no autograd graph through the steps, whoever calls it
def decode(model, tokenizer, prompts: list[list[int]], max_new: int, stop: tuple[str, ...],
           sampler: SeededSampler | None, eos: set[int], slots: int,
           done: Callable[[int, Completion], None]) -> None:
    """Complete every prompt, calling ``done(index, completion)`` as each one ends.

    - A token prefix shared by every prompt (the few-shot examples) runs once, so a joining row
      prefills only its own suffix. Decode steps read the prefix's keys and values once for all
      rows (``hf_attention.py``) where the model's attention allows; otherwise each slot keeps a
      copy of them.
    - Decode steps of transformers' own Llama run as the same operations without its module
      dispatch (``hf_llama_step.py``; bitwise the same logits, ~5-15% less time per step on a CPU),
      their float32 weight products through oneDNN with packed weights where available (the same
      logits to rounding, ~10% less again); with packed weights, joiners are prefilled without
      padding and read the prefix once (``hf_llama_step.prefill``, ~40% less per prefill).
    - Longest prompts join first: joiners of one prefill have similar widths (little padding).
    - A finished row's slot is refilled at once while prompts wait; once none wait, finished rows
      leave the batch.
    - When rows run to the length cap, the last ones share the slots so that they end together
      (``_Decoder._sharing``).
    """
    if max_new <= 0:
        for i in range(len(prompts)):
            done(i, Completion("", "length", 0))
        return
    _Decoder(model, tokenizer, prompts, max_new, stop, sampler, eos, slots, done).run()


class _Decoder:
    def __init__(self, model, tokenizer, prompts, max_new, stop, sampler, eos, slots, done):
        self.model, self.tokenizer, self.prompts = model, tokenizer, prompts
        self.max_new, self.stop, self.sampler, self.eos, self.done = max_new, stop, sampler, eos, done
        self.device = model.device
        self.slots = max(1, min(slots, len(prompts)))
        shared = min((common_prefix(prompts[0], p) for p in prompts[1:]), default=0)
        shared = min(shared, *(len(p) - 1 for p in prompts))  # every row keeps a token to prefill
        self.past = prefix_cache(model, prompts[0][:shared]) if shared >= MIN_SHARED_PREFIX else None
        self.prefix = shared if self.past is not None else 0
        self.shared = None  # the prefix's (keys, values) per layer, when decode steps read it once
        if self.past is not None and can_share_prefix(model):
            self.shared = [(layer.keys[0], layer.values[0]) for layer in self.past.layers]
        self.llama_step = self.shared is not None and hf_llama_step.supports(model)
        self.linear = hf_llama_step.plain_linear
        if self.llama_step and hf_llama_step.PackedLinears.available(model):
            self.linear = hf_llama_step.PackedLinears(model, self.slots)
        self.slot_prefix = 0 if self.shared is not None else self.prefix  # prefix columns kept in each slot
        self.waiting = deque(sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), i)))
        self.parked: list[_Parked] = []  # rows set aside while sharing, at most ``slots``
        self.finished = self.capped = self.steps = 0  # rows ended, of them at the length cap; decode steps
        self.rows: list[_Row | None] = []  # per cache slot
        self.cache: SlotCache | None = None
        self.window = 2 * max((len(s) for s in stop), default=0) + 4  # tokens enough to hold any stop string

    def run(self) -> None:
        while True:
            self._fill()
            if None in self.rows:  # nothing waits: finished rows leave the batch
                keep = [s for s, row in enumerate(self.rows) if row is not None]
                if not keep:
                    return
                assert self.cache is not None
                self.cache.select(keep)
                self.rows = [self.rows[s] for s in keep]
            if not self.rows:
                return
            if self.steps % SHARE_QUANTUM == 0 and self._sharing():
                self._rebalance()
            self._step()
            self.steps += 1

    def _fill(self) -> None:
        """Free slots take waiting prompts first, then set-aside rows, furthest behind first."""
        while (self.waiting or self.parked) and (None in self.rows or len(self.rows) < self.slots):
            if self.waiting:
                self._admit()
            else:
                self._resume(min(self.parked, key=lambda p: len(p.row.tokens)))

    def _sharing(self) -> bool:
        """Whether the last rows share the slots: once every unfinished row fits in twice the
        slots, and when at least 3 in 4 of the rows ended so far (and at least a batch's worth)
        ran to the length cap. Then a row's remaining length is its remaining budget, and rows
        that make progress in turn end together: 50 rows of 96 tokens in 16 slots take 300 steps
        instead of 4 x 96 = 384, the last 96 of them for 2 rows (a step's cost hardly depends on
        its rows on a CPU). With rows ending early (EOS, stop strings) their lengths are unknown,
        and sharing would hold back the longest row, which ends the call: the rows keep their slots."""
        unfinished = len(self.waiting) + len(self.parked) + sum(r is not None for r in self.rows)
        return (bool(self.waiting or self.parked) and unfinished <= 2 * self.slots
                and self.finished >= self.slots and 4 * self.capped >= 3 * self.finished)

    def _rebalance(self) -> None:
        """Least progress first: the rows furthest ahead are set aside for the waiting prompts and
        set-aside rows furthest behind, pair by pair while a pair is at least a quantum apart."""
        ahead = sorted((s for s, r in enumerate(self.rows) if r is not None),
                       key=lambda s: -len(self.rows[s].tokens))  # type: ignore[union-attr]
        behind = [0] * len(self.waiting) + sorted(len(p.row.tokens) for p in self.parked)
        for slot, progress in zip(ahead, behind):
            row = self.rows[slot]
            assert row is not None and self.cache is not None
            if len(row.tokens) - progress < SHARE_QUANTUM or len(self.parked) >= self.slots:
                break
            self.parked.append(_Parked(row, self.cache.take(slot, row.used)))
            self.rows[slot] = None
        self._fill()

    def _resume(self, parked: _Parked) -> None:
        """Put a set-aside row back into a free slot; it goes on exactly where it stopped."""
        assert self.cache is not None
        self.parked.remove(parked)
        self.cache.fit(max([r.used for r in self.rows if r is not None] + [parked.row.used]))
        slot = self.rows.index(None)
        self.cache.restore(slot, parked.columns)
        self.rows[slot] = parked.row

    def _admit(self) -> None:
        """Prefill waiting prompts into the free slots; pick their first tokens."""
        free = [s for s, row in enumerate(self.rows) if row is None]
        free += list(range(len(self.rows), self.slots))
        joiners = [self.waiting.popleft() for _ in range(min(len(free), len(self.waiting)))]
        suffixes = [self.prompts[i][self.prefix:] for i in joiners]
        prefill, logits = self._prefill(suffixes)
        if self.cache is None:
            longest = max(len(p) for p in self.prompts) - self.prefix
            self.cache = SlotCache(prefill, self.slot_prefix, self.slots,
                                   self.slot_prefix + longest + self.max_new + SLACK + 1)
            self.rows = [None] * self.slots
        self.cache.fit(max([r.used for r in self.rows if r is not None] + [len(s) for s in suffixes]))
        new = [_Row(i, len(s)) for i, s in zip(joiners, suffixes)]
        for j, (slot, row) in enumerate(zip(free, new)):
            self.cache.place(slot, prefill, j, row.own)
            self.rows[slot] = row
        self._advance(list(zip(free, new)), logits)

    def _prefill(self, suffixes: list[list[int]]):
        """One forward over the joiners' suffixes, left-padded, after the shared prefix; with packed
        weights (already equal to rounding only), ``hf_llama_step.prefill``: no padding, the prefix
        read once."""
        if isinstance(self.linear, hf_llama_step.PackedLinears):
            assert self.shared is not None
            return hf_llama_step.prefill(self.model, suffixes, self.prefix, self.shared, self.linear)
        n, width, prefix = len(suffixes), max(len(s) for s in suffixes), self.prefix
        input_ids = torch.full((n, width), self.tokenizer.pad_token_id, dtype=torch.long)
        positions = torch.zeros((n, width), dtype=torch.long)
        mask = torch.zeros((n, prefix + width), dtype=torch.long)
        mask[:, :prefix] = 1
        for b, s in enumerate(suffixes):
            input_ids[b, width - len(s):] = torch.tensor(s, dtype=torch.long)
            positions[b, width - len(s):] = torch.arange(prefix, prefix + len(s))
            mask[b, prefix + width - len(s):] = 1
        past = expand_cache(self.past, n) if self.past is not None else None
        out = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                         position_ids=positions.to(self.device), **with_cache(self.model, past), use_cache=True,
                         **last_logits_only(self.model))
        return cache_of(out), out.logits[:, -1]

    def _step(self) -> None:
        """Feed every row its last token: one new column for all, one token each."""
        assert self.cache is not None
        rows = [r for r in self.rows if r is not None]
        self.cache.fit(max(r.used for r in rows))
        used = torch.tensor([r.used for r in rows], device=self.device)
        last = torch.tensor([[r.tokens[-1]] for r in rows], device=self.device)
        positions = torch.tensor([[self.prefix + r.own + len(r.tokens) - 1] for r in rows], device=self.device)
        if self.llama_step and self.shared is not None:
            logits = hf_llama_step.decode_step(self.model, last, positions, self.cache.cache,
                                               self.cache.mask(used).bool(), self.shared, self.linear)
        elif self.shared is None:
            logits = self.model(input_ids=last, attention_mask=self.cache.mask(used), position_ids=positions,
                                **with_cache(self.model, self.cache.cache), use_cache=True).logits
        else:
            with sharing_prefix(self.model):
                logits = self.model(input_ids=last, attention_mask=self.cache.mask(used), position_ids=positions,
                                    **with_cache(self.model, self.cache.cache), use_cache=True,
                                    shared_prefix=self.shared).logits
        self._advance(list(enumerate(rows)), logits[:, -1])

    def _advance(self, rows: list[tuple[int, _Row]], logits: torch.Tensor) -> None:
        """Append each row's next token; a row that ends frees its slot."""
        scores = logits.float()
        if self.sampler is not None:
            scores = self.sampler.choose(scores, [row.index for _, row in rows])
        picked = scores.argmax(-1).tolist()
        for (slot, row), token in zip(rows, picked):
            reason = None
            if token in self.eos:
                reason = "eos"
            else:
                row.tokens.append(token)
                if self.stop and any(s in self.tokenizer.decode(row.tokens[-self.window:], skip_special_tokens=True)
                                     for s in self.stop):
                    reason = "stop"
                elif len(row.tokens) >= self.max_new:
                    reason = "length"
            if reason is not None:
                self.finished += 1
                self.capped += reason == "length"
                text = self.tokenizer.decode(row.tokens, skip_special_tokens=True)
                self.done(row.index, Completion(cut_at_stop(text, self.stop), reason, len(row.tokens)))
                self.rows[slot] = None


class SeededSampler(LogitsProcessor):
    """Temperature and nucleus (top-p) sampling where each row draws from its own CPU generator.

    The global RNG and torch's batched ``multinomial`` would make a row's tokens depend on the
    other rows of its batch and on the device. Here each step takes exactly one uniform number
    from the row's generator and inverts the row's CDF, then leaves the chosen token as the only
    finite logit.
    """

    def __init__(self, seeds: list[int], temperature: float, top_p: float):
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]
        self.temperature, self.top_p = temperature, top_p
        self.rows = list(range(len(seeds)))  # which generator each row of ``__call__``'s scores uses

    def __call__(self, input_ids: torch.LongTensor | None, scores: torch.Tensor) -> torch.Tensor:
        return self.choose(scores, self.rows)

    def choose(self, scores: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """Row ``k`` of ``scores`` samples with generator ``rows[k]``."""
        probs = (scores.float() / self.temperature).softmax(-1)
        if self.top_p < 1.0:
            # Keep tokens, most likely first, until the kept mass reaches top_p (always the top one).
            ranked, order = probs.sort(dim=-1, descending=True, stable=True)
            ranked = ranked.masked_fill(ranked.cumsum(-1) - ranked >= self.top_p, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, ranked)
        cdf = probs.cumsum(-1)
        u = torch.tensor([float(torch.rand((), generator=self.generators[r])) for r in rows], device=cdf.device)
        picked = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None].contiguous(), right=True)
        picked = picked.clamp(max=scores.shape[-1] - 1)
        return torch.full_like(scores, float("-inf")).scatter(-1, picked, 0.0)
