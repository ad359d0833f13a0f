"""Hugging Face transformers backend: batched log-likelihood scoring, greedy and seeded sampled generation."""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import (AutoModelForCausalLM, AutoTokenizer, DynamicCache, LogitsProcessor,
                          LogitsProcessorList, StoppingCriteria, StoppingCriteriaList)

from compass.config import ModelConfig
from compass.errors import CompassError
from compass.models.base import GenerateRequest, ScoreRequest, cut_at_stop, derive_seed

MIN_SHARED_PREFIX = 32  # tokens; shorter shared prefixes are not worth a separate forward pass
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _dtype(name: str, device: torch.device) -> torch.dtype:
    if name != "auto":
        return DTYPES[name]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _load(what: str, loader, path: str, **kwargs):
    try:
        return loader.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:  # transformers raises either for missing files
        where = "is not a local directory" if not Path(path).exists() else "could not be read"
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CompassError(f"model {path!r}: {what} not available ({path!r} {where}; "
                           f"hub download failed or offline: {reason})") from None


class HFCausalLM:
    def __init__(self, cfg: ModelConfig):
        self.cfg = cfg
        self.device = _device(cfg.device)
        self.tokenizer = _load("tokenizer", AutoTokenizer, cfg.tokenizer_path or cfg.path, **cfg.tokenizer_kwargs)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = _load("weights", AutoModelForCausalLM, cfg.path,
                           dtype=_dtype(cfg.dtype, self.device), **cfg.model_kwargs)
        self.model.to(self.device).eval()

    # -- tokenisation -------------------------------------------------------------------------
    def _format(self, text: str) -> str:
        if not self.cfg.chat:
            return text
        if not getattr(self.tokenizer, "chat_template", None):
            # Documented fallback for tokenizers without a template: ChatML, as InternLM2 and Qwen use.
            return f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"
        return self.tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                                  add_generation_prompt=True)

    def _encode(self, text: str) -> list[int]:
        # A chat template already holds the special tokens it wants.
        return self.tokenizer(text, add_special_tokens=not self.cfg.chat)["input_ids"]

    def _continuation_ids(self, context: str, context_ids: list[int], continuation: str) -> list[int]:
        # Encode together so merges across the boundary match how the model saw such text.
        whole = self._encode(context + continuation)
        if whole[: len(context_ids)] == context_ids and len(whole) > len(context_ids):
            return whole[len(context_ids):]
        return self.tokenizer(continuation, add_special_tokens=False)["input_ids"]

    # -- log-likelihood -----------------------------------------------------------------------
    @torch.inference_mode()
    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        """Each context runs once for all of its continuations, and a token prefix shared by
        several contexts (e.g. a subject's few-shot examples) runs once, its KV cache reused."""
        contexts, conts = [], []
        for req in requests:
            context = self._format(req.context)
            ctx_ids = self._encode(context)
            cont_ids = [self._continuation_ids(context, ctx_ids, c) for c in req.continuations]
            keep = self.cfg.max_seq_len + 1 - max(len(c) for c in cont_ids)
            contexts.append(ctx_ids[-max(keep, 1):])
            conts.append(cont_ids)
        scores = [[0.0] * len(req.continuations) for req in requests]
        for members, prefix_len in _prefix_groups(contexts, MIN_SHARED_PREFIX):
            past = self._prefix_cache(contexts[members[0]][:prefix_len]) if prefix_len else None
            if past is None:
                prefix_len = 0
            rows: dict[tuple[int, ...], list[tuple[int, int, int, list[int]]]] = {}
            for r in members:
                suffix = contexts[r][prefix_len:]
                for c, cont in enumerate(conts[r]):
                    # The row predicts every continuation token: the context's last token onwards.
                    # Single-token continuations share one row, so a question runs once for all choices.
                    row = tuple(suffix + cont[:-1])
                    rows.setdefault(row, []).append((r, c, len(suffix) - 1, cont))
            for (r, c), value in self._score_rows(list(rows.items()), past, prefix_len):
                scores[r][c] = value
        return scores

    def _prefix_cache(self, prefix: list[int]):
        """The KV cache of a shared prefix, or None when this model's cache cannot be shared."""
        out = self.model(input_ids=torch.tensor([prefix], device=self.device), use_cache=True)
        cache = out.past_key_values
        return cache if hasattr(cache, "layers") else None  # e.g. remote-code models with tuple caches

    def _score_rows(self, rows, past, prefix_len: int):
        """Yield ((request, choice), log-probability) for every target of every row."""
        rows.sort(key=lambda item: -len(item[0]))
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(rows), self.cfg.batch_size):
            batch = rows[start:start + self.cfg.batch_size]
            width = max(len(ids) for ids, _ in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), prefix_len + width), dtype=torch.long)
            mask[:, :prefix_len] = 1
            for b, (ids, _) in enumerate(batch):  # right padding keeps real positions unchanged
                input_ids[b, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                mask[b, prefix_len: prefix_len + len(ids)] = 1
            kwargs = {}
            if past is not None:
                kwargs["past_key_values"] = _expand_cache(past, len(batch))
            logits = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                                **kwargs).logits
            for b, (_, targets) in enumerate(batch):
                for r, c, first, cont in targets:
                    # Log-softmax only where a continuation token is predicted, not over the whole row.
                    picked = logits[b, first:first + len(cont)].float().log_softmax(-1)
                    value = picked.gather(-1, torch.tensor(cont, device=picked.device)[:, None]).sum()
                    yield (r, c), float(value)

    # -- generation ---------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        """``num_samples`` completions per request, request by request. Sample j of a request draws
        from its own generator seeded by (request seed, j), so batch size, batch composition and
        order never change a completion (up to float noise in the logits)."""
        encoded = [self._encode(self._format(req.prompt)) for req in requests]
        # One row per distinct completion: greedy samples would all be the same, so greedy runs once.
        rows = [(i, j) for i, req in enumerate(requests) for j in range(req.num_samples if req.temperature > 0 else 1)]
        rows.sort(key=lambda row: -len(encoded[row[0]]))
        # Rows in one batch share max_out_len, stop strings and sampling settings (they come from one dataset).
        groups: dict[tuple, list[tuple[int, int]]] = {}
        for i, j in rows:
            req = requests[i]
            sampling = (req.temperature, req.top_p) if req.temperature > 0 else None
            groups.setdefault((req.max_out_len, req.stop + tuple(self.cfg.stop), sampling), []).append((i, j))
        texts: dict[tuple[int, int], str] = {}
        for (max_new, stop, sampling), members in groups.items():
            for start in range(0, len(members), self.cfg.batch_size):
                batch = members[start:start + self.cfg.batch_size]
                sampler = None
                if sampling is not None:
                    sampler = _SeededSampler([derive_seed(requests[i].seed, j) for i, j in batch], *sampling)
                outs = self._generate_batch([encoded[i] for i, _ in batch], max_new, stop, sampler)
                texts.update(zip(batch, outs))
        return [texts[(i, j if req.temperature > 0 else 0)]
                for i, req in enumerate(requests) for j in range(req.num_samples)]

    def _generate_batch(self, prompts: list[list[int]], max_new: int, stop: tuple[str, ...],
                        sampler: "_SeededSampler | None" = None) -> list[str]:
        keep = max(1, self.cfg.max_seq_len - max_new)
        prompts = [p[-keep:] for p in prompts]
        if self.cfg.generation_kwargs:  # user-chosen generate() options: let transformers run them
            return self._generate_with_hf(prompts, max_new, stop, sampler)
        return self._decode(prompts, max_new, stop, sampler)

    def _decode(self, prompts: list[list[int]], max_new: int, stop: tuple[str, ...],
                sampler: "_SeededSampler | None") -> list[str]:
        """Greedy (or seeded-sampling) decoding with a KV cache, where

        - a token prefix shared by every prompt (the few-shot examples) runs once, its cache reused;
        - rows are padded between that prefix and their own text, with explicit positions, so
          every row sees exactly the positions it would see alone;
        - a row that hits EOS or a stop string leaves the batch at once instead of decoding padding.
        """
        batch = len(prompts)
        shared = _common_prefix(prompts[0], prompts[-1]) if batch > 1 else 0
        for p in prompts[1:-1]:
            shared = _common_prefix(prompts[0][:shared], p)
        shared = min(shared, *(len(p) - 1 for p in prompts))
        past = self._prefix_cache(prompts[0][:shared]) if batch > 1 and shared >= MIN_SHARED_PREFIX else None
        prefix = shared if past is not None else 0
        suffixes = [p[prefix:] for p in prompts]
        width = max(len(s) for s in suffixes)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((batch, width), pad, dtype=torch.long)
        positions = torch.zeros((batch, width), dtype=torch.long)
        mask = torch.zeros((batch, prefix + width), dtype=torch.long)
        mask[:, :prefix] = 1
        for b, s in enumerate(suffixes):
            input_ids[b, width - len(s):] = torch.tensor(s, dtype=torch.long)
            positions[b, width - len(s):] = torch.arange(prefix, prefix + len(s))
            mask[b, prefix + width - len(s):] = 1
        mask, positions = mask.to(self.device), positions.to(self.device)
        out = self.model(input_ids=input_ids.to(self.device), attention_mask=mask, position_ids=positions,
                         past_key_values=_expand_cache(past, batch) if past is not None else None, use_cache=True)
        cache, logits = out.past_key_values, out.logits[:, -1]
        next_pos = positions[:, -1] + 1
        eos = self._eos_ids()
        window = 2 * max((len(s) for s in stop), default=0) + 4  # tokens enough to hold any stop string
        active, tokens_out = list(range(batch)), [[] for _ in range(batch)]
        for step in range(max_new):
            scores = logits.float()
            if sampler is not None:
                scores = sampler(None, scores)
            picked = scores.argmax(-1)
            keep = []
            for row, b in enumerate(active):
                token = int(picked[row])
                if token in eos:
                    continue
                tokens_out[b].append(token)
                if stop and any(s in self.tokenizer.decode(tokens_out[b][-window:], skip_special_tokens=True)
                                for s in stop):
                    continue
                keep.append(row)
            if not keep or step == max_new - 1:
                break
            if len(keep) < len(active):  # finished rows leave the batch, cache included
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                mask, next_pos, picked = mask[index], next_pos[index], picked[index]
                active = [active[row] for row in keep]
                if sampler is not None:
                    sampler.select(keep)
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
            out = self.model(input_ids=picked[:, None], attention_mask=mask, position_ids=next_pos[:, None],
                             past_key_values=cache, use_cache=True)
            cache, logits = out.past_key_values, out.logits[:, -1]
            next_pos = next_pos + 1
        texts = [self.tokenizer.decode(t, skip_special_tokens=True) for t in tokens_out]
        return [cut_at_stop(t, stop) for t in texts]

    def _eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        if self.tokenizer.eos_token_id is not None:
            ids.append(self.tokenizer.eos_token_id)
        return set(ids)

    def _generate_with_hf(self, prompts: list[list[int]], max_new: int, stop: tuple[str, ...],
                          sampler: "_SeededSampler | None") -> list[str]:
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for b, p in enumerate(prompts):  # left padding: every row's next token is at the same column
            input_ids[b, width - len(p):] = torch.tensor(p)
            mask[b, width - len(p):] = 1
        criteria = StoppingCriteriaList([_StopStrings(self.tokenizer, width, stop)]) if stop else None
        # Sampling happens in our own processor (per-row generators); generate's greedy step then
        # picks the one token it left, so do_sample stays False either way.
        processors = LogitsProcessorList([sampler]) if sampler is not None else None
        generated = self.model.generate(
            input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device), max_new_tokens=max_new,
            do_sample=False, pad_token_id=pad, stopping_criteria=criteria, logits_processor=processors,
            **{"temperature": None, "top_p": None, "top_k": None, **self.cfg.generation_kwargs},
        )
        texts = self.tokenizer.batch_decode(generated[:, width:], skip_special_tokens=True)
        return [cut_at_stop(t, stop) for t in texts]


class _SeededSampler(LogitsProcessor):
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

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
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


class _StopStrings(StoppingCriteria):
    """Per-row stop: a row is done once its new text contains a stop string."""

    def __init__(self, tokenizer, prompt_width: int, stop: tuple[str, ...]):
        self.tokenizer, self.prompt_width, self.stop = tokenizer, prompt_width, stop

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_width:], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stop) for t in texts], device=input_ids.device)


def _prefix_groups(contexts: list[list[int]], min_len: int) -> list[tuple[list[int], int]]:
    """Group requests whose contexts share a token prefix of at least ``min_len`` tokens.

    Returns (request indices, shared prefix length) pairs; the prefix always leaves each context
    at least its last token, whose logits predict the first continuation token.
    """
    order = sorted(range(len(contexts)), key=lambda i: contexts[i])
    groups: list[tuple[list[int], int]] = []
    members: list[int] = []
    shared = 0
    for i in order:
        if members:
            first = contexts[members[0]]
            common = _common_prefix(first[:shared], contexts[i])
            if common >= min_len:
                members.append(i)
                shared = common
                continue
            groups.append((members, shared))
        members, shared = [i], len(contexts[i])
    if members:
        groups.append((members, shared))
    result = []
    for group, length in groups:
        length = min(length, *(len(contexts[i]) - 1 for i in group))
        result.append((group, length if len(group) > 1 and length >= min_len else 0))
    return result


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _expand_cache(cache, n: int) -> DynamicCache:
    """The prefix's cache repeated for ``n`` rows, as views: the prefix itself is never modified."""
    return DynamicCache(ddp_cache_data=[(layer.keys.expand(n, -1, -1, -1), layer.values.expand(n, -1, -1, -1))
                                        for layer in cache.layers])
