"""Generation for the transformers backend: batched greedy or seeded sampled decoding."""
from __future__ import annotations

from typing import cast

import torch
from transformers import DynamicLayer, LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from compass.models.base import Completion, cut_at_stop
from compass.models.kv_prefix import (
    MIN_SHARED_PREFIX,
    cache_of,
    common_prefix,
    expand_cache,
    last_logits_only,
    prefix_cache,
    with_cache,
)


def decode(model, tokenizer, prompts: list[list[int]], max_new: int, stop: tuple[str, ...],
           sampler: SeededSampler | None, eos: set[int]) -> list[Completion]:
    """Greedy (or seeded-sampling) decoding with a KV cache, where

    - a token prefix shared by every prompt (the few-shot examples) runs once, its cache reused;
    - rows are padded between that prefix and their own text, with explicit positions, so
      every row sees exactly the positions it would see alone;
    - a row that hits EOS or a stop string leaves the batch at once instead of decoding padding.
    """
    device = model.device
    batch = len(prompts)
    shared = common_prefix(prompts[0], prompts[-1]) if batch > 1 else 0
    for p in prompts[1:-1]:
        shared = common_prefix(prompts[0][:shared], p)
    shared = min(shared, *(len(p) - 1 for p in prompts))
    past = prefix_cache(model, prompts[0][:shared]) if batch > 1 and shared >= MIN_SHARED_PREFIX else None
    prefix = shared if past is not None else 0
    suffixes = [p[prefix:] for p in prompts]
    width = max(len(s) for s in suffixes)
    pad = tokenizer.pad_token_id
    input_ids = torch.full((batch, width), pad, dtype=torch.long)
    positions = torch.zeros((batch, width), dtype=torch.long)
    mask = torch.zeros((batch, prefix + width), dtype=torch.long)
    mask[:, :prefix] = 1
    for b, s in enumerate(suffixes):
        input_ids[b, width - len(s):] = torch.tensor(s, dtype=torch.long)
        positions[b, width - len(s):] = torch.arange(prefix, prefix + len(s))
        mask[b, prefix + width - len(s):] = 1
    mask, positions = mask.to(device), positions.to(device)
    out = model(input_ids=input_ids.to(device), attention_mask=mask, position_ids=positions,
                **with_cache(model, expand_cache(past, batch) if past is not None else None), use_cache=True,
                **last_logits_only(model))
    cache, logits = cache_of(out), out.logits[:, -1]
    if hasattr(cache, "layers") and all(type(layer) is DynamicLayer for layer in cache.layers):
        cache.layers = [GrowingLayer(layer.keys, layer.values, max_new) for layer in cache.layers]
    next_pos = positions[:, -1] + 1
    window = 2 * max((len(s) for s in stop), default=0) + 4  # tokens enough to hold any stop string
    active = list(range(batch))
    tokens_out: list[list[int]] = [[] for _ in range(batch)]
    reasons = ["length"] * batch  # a row that never stops ran out of room
    for step in range(max_new):
        scores = logits.float()
        if sampler is not None:
            scores = sampler(None, scores)
        picked = scores.argmax(-1)
        keep = []
        for row, b in enumerate(active):
            token = int(picked[row])
            if token in eos:
                reasons[b] = "eos"
                continue
            tokens_out[b].append(token)
            if stop and any(s in tokenizer.decode(tokens_out[b][-window:], skip_special_tokens=True)
                            for s in stop):
                reasons[b] = "stop"
                continue
            keep.append(row)
        if not keep or step == max_new - 1:
            break
        if len(keep) < len(active):  # finished rows leave the batch, cache included
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            mask, next_pos, picked = mask[index], next_pos[index], picked[index]
            active = [active[row] for row in keep]
            if sampler is not None:
                sampler.select(keep)
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
        out = model(input_ids=picked[:, None], attention_mask=mask, position_ids=next_pos[:, None],
                    **with_cache(model, cache), use_cache=True)
        cache, logits = cache_of(out), out.logits[:, -1]
        next_pos = next_pos + 1
    texts = [tokenizer.decode(t, skip_special_tokens=True) for t in tokens_out]
    return [Completion(cut_at_stop(t, stop), r, len(ids)) for t, r, ids in zip(texts, reasons, tokens_out)]


class GrowingLayer(DynamicLayer):
    """A decode cache layer with room reserved for the new tokens: each step writes in place.

    transformers' DynamicLayer concatenates, copying the whole cache at every step of every
    layer; on CPU that copying was 84% of decoding time for a 4-shot GSM8K batch.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, room: int):
        super().__init__()
        self.lazy_initialization(keys, values)
        b, h, n, d = keys.shape
        self._keys, self._values = keys.new_empty((b, h, n + room, d)), values.new_empty((b, h, n + room, values.shape[-1]))
        self._keys[:, :, :n], self._values[:, :, :n] = keys, values
        self._set_length(n)

    def _set_length(self, n: int) -> None:
        self.length = n
        self.keys, self.values = self._keys[:, :, :n], self._values[:, :, :n]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        end = self.length + key_states.shape[-2]
        if end > self._keys.shape[-2]:  # more than reserved: grow once, by doubling
            extra = max(end, 2 * self._keys.shape[-2]) - self._keys.shape[-2]
            room = self._keys.shape[:2] + (extra, self._keys.shape[-1])
            self._keys = torch.cat([self._keys, self._keys.new_empty(room)], 2)
            self._values = torch.cat([self._values, self._values.new_empty(self._values.shape[:2] + room[2:])], 2)
        self._keys[:, :, self.length:end], self._values[:, :, self.length:end] = key_states, value_states
        self._set_length(end)
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._keys, self._values = self._keys[indices], self._values[indices]
        self._set_length(self.length)


def generate_with_hf(model, tokenizer, prompts: list[list[int]], max_new: int, stop: tuple[str, ...],
                     sampler: SeededSampler | None, generation_kwargs: dict) -> list[Completion]:
    device = model.device
    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    input_ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for b, p in enumerate(prompts):  # left padding: every row's next token is at the same column
        input_ids[b, width - len(p):] = torch.tensor(p)
        mask[b, width - len(p):] = 1
    criteria = StoppingCriteriaList([StopStrings(tokenizer, width, stop)]) if stop else None
    # Sampling happens in our own processor (per-row generators); generate's greedy step then
    # picks the one token it left, so do_sample stays False either way.
    processors = LogitsProcessorList([sampler]) if sampler is not None else None
    generated = model.generate(
        input_ids=input_ids.to(device), attention_mask=mask.to(device), max_new_tokens=max_new,
        do_sample=False, pad_token_id=pad, stopping_criteria=criteria, logits_processor=processors,
        **{"temperature": None, "top_p": None, "top_k": None, **generation_kwargs},
    )
    new = generated[:, width:].tolist()
    texts = tokenizer.batch_decode(new, skip_special_tokens=True)
    eos, pad_id = set(_ids(model.generation_config.eos_token_id)), pad
    completions = []
    for ids, text in zip(new, texts):
        while ids and ids[-1] == pad_id and pad_id not in eos:  # right padding of rows that ended early
            ids = ids[:-1]
        cut = cut_at_stop(text, stop)
        reason = "stop" if cut != text else "eos" if ids and ids[-1] in eos else "length" if len(ids) >= max_new else "eos"
        completions.append(Completion(cut, reason, len(ids)))
    return completions


def _ids(value) -> list[int]:
    return [value] if isinstance(value, int) else list(value or [])


class SeededSampler(LogitsProcessor):
    """Temperature and nucleus (top-p) sampling where row b draws from its own CPU generator.

    The global RNG and torch's batched ``multinomial`` would make a row's tokens depend on the
    other rows of its batch and on the device. Here each step takes exactly one uniform number
    from the row's generator and inverts the row's CDF, then leaves the chosen token as the only
    finite logit.
    """

    def __init__(self, seeds: list[int], temperature: float, top_p: float):
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]
        self.temperature, self.top_p = temperature, top_p

    def select(self, rows: list[int]) -> None:
        """Keep only these rows' generators (the others finished and left the batch)."""
        self.generators = [self.generators[r] for r in rows]

    def __call__(self, input_ids: torch.LongTensor | None, scores: torch.Tensor) -> torch.Tensor:
        probs = (scores.float() / self.temperature).softmax(-1)
        if self.top_p < 1.0:
            # Keep tokens, most likely first, until the kept mass reaches top_p (always the top one).
            ranked, order = probs.sort(dim=-1, descending=True, stable=True)
            ranked = ranked.masked_fill(ranked.cumsum(-1) - ranked >= self.top_p, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, ranked)
        cdf = probs.cumsum(-1)
        u = torch.tensor([float(torch.rand((), generator=g)) for g in self.generators], device=cdf.device)
        picked = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None].contiguous(), right=True)
        picked = picked.clamp(max=scores.shape[-1] - 1)
        return torch.full_like(scores, float("-inf")).scatter(-1, picked, 0.0)


class StopStrings(StoppingCriteria):
    """Per-row stop: a row is done once its new text contains a stop string."""

    def __init__(self, tokenizer, prompt_width: int, stop: tuple[str, ...]):
        self.tokenizer, self.prompt_width, self.stop = tokenizer, prompt_width, stop

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_width:], skip_special_tokens=True)
        done = torch.tensor([any(s in t for s in self.stop) for t in texts], device=input_ids.device)
        return cast(torch.BoolTensor, done)  # torch's stubs type every op's result as plain Tensor
