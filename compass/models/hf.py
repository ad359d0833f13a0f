"""Hugging Face transformers backend: loading, tokenisation, and the two entry points.

Scoring lives in ``hf_score.py`` (shared prefixes, one row per question, logits only where
needed), generation in ``hf_generate.py`` (continuous batching: a finished row's slot takes the next
waiting prompt at once).
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from compass.config import ModelConfig
from compass.errors import CompassError
from compass.models.base import Completion, GenerateRequest, OnDone, ScoreRequest, derive_seed
from compass.models.hf_generate import SeededSampler, decode
from compass.models.hf_generate_kwargs import generate_with_hf
from compass.models.hf_score import Scorer
from compass.models.memory import halving_on_oom
from compass.models.tokens import PromptEncoder

log = logging.getLogger(__name__)
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
        self.encoder = PromptEncoder(self.tokenizer, cfg.chat, cfg.max_seq_len, cfg.system_prompt)
        self.generate_cap = cfg.batch_size  # lowered if a batch runs out of device memory
        # Prompts a caller should hand generate() at once: finished rows are refilled only from
        # prompts it holds, and each call ends with its last rows draining the batch.
        self.generate_chunk = 16 * cfg.batch_size
        self.scorer = Scorer(self.model, self.tokenizer.pad_token_id, cfg.batch_size, cfg.max_batch_tokens)
        self.usage: Counter[str] = Counter()  # tokens read and written, for the run's throughput figures

    # -- log-likelihood -----------------------------------------------------------------------
    @torch.inference_mode()
    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        """log p(continuation | context) for every continuation of every request."""
        contexts, continuations = self.encoder.score_inputs(requests)
        self.usage["prompt_tokens"] += sum(len(c) + sum(map(len, cs)) for c, cs in zip(contexts, continuations))
        return self.scorer.score(contexts, continuations)

    # -- generation ---------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, requests: list[GenerateRequest],
                 on_done: OnDone | None = None) -> list[Completion]:
        """``num_samples`` completions per request, request by request. Sample j of a request draws
        from its own generator seeded by (request seed, j), so batch size, batch composition and
        order never change a completion (up to float noise in the logits). ``on_done(i, completions)``
        is called as soon as request ``i``'s completions are all known, so a caller can keep them
        before the whole call ends."""
        encoded = self.encoder.encode([self.encoder.format(req.prompt) for req in requests])
        # One row per distinct completion: greedy samples would all be the same, so greedy runs once.
        rows = [(i, j) for i, req in enumerate(requests) for j in range(req.num_samples if req.temperature > 0 else 1)]
        # Rows decoded together share max_out_len, stop strings and sampling settings (one dataset's).
        groups: dict[tuple, list[tuple[int, int]]] = {}
        for i, j in rows:
            req = requests[i]
            sampling = (req.temperature, req.top_p) if req.temperature > 0 else None
            groups.setdefault((req.max_out_len, req.stop + tuple(self.cfg.stop), sampling), []).append((i, j))
        texts: dict[tuple[int, int], Completion] = {}
        missing = Counter(i for i, _ in rows)

        def of_request(i: int) -> list[Completion]:
            req = requests[i]
            return [texts[(i, j if req.temperature > 0 else 0)] for j in range(req.num_samples)]

        def landed(row: tuple[int, int], completion: Completion) -> None:
            texts[row] = completion
            missing[row[0]] -= 1
            if on_done is not None and missing[row[0]] == 0:
                on_done(row[0], of_request(row[0]))

        def landed_in(members: list[tuple[int, int]]) -> Callable[[int, Completion], None]:
            return lambda k, completion: landed(members[k], completion)

        for (max_new, stop, sampling), members in groups.items():
            keep = max(1, self.cfg.max_seq_len - max_new)
            prompts = [encoded[i][-keep:] for i, _ in members]
            seeds = [derive_seed(requests[i].seed, j) for i, j in members] if sampling is not None else None
            # User-chosen generate() options: transformers' generate() runs them.
            run = self._generate_hf if self.cfg.generation_kwargs else self._decode_fitting
            run(prompts, max_new, stop, sampling, seeds, landed_in(members))
        return [c for i in range(len(requests)) for c in of_request(i)]

    def _decode_fitting(self, prompts: list[list[int]], max_new: int, stop: tuple[str, ...], sampling,
                        seeds: list[int] | None, landed: Callable[[int, Completion], None]) -> None:
        """Continuous batching with ``generate_cap`` rows in flight. On running out of device memory,
        the rows already finished stand (each row's output is its own) and the rest start again with
        half as many rows in flight, a size later calls start from. ``landed(k, completion)`` as
        each prompt ends."""
        done: dict[int, Completion] = {}

        def finisher(todo: list[int]):
            return lambda n, completion: finish(todo[n], completion)

        def finish(k: int, completion: Completion) -> None:
            done[k] = completion
            self.usage["prompt_tokens"] += len(prompts[k])
            self.usage["completion_tokens"] += completion.tokens or 0  # generated, stop string included
            landed(k, completion)

        while len(done) < len(prompts):
            todo = [k for k in range(len(prompts)) if k not in done]
            slots = min(self.generate_cap, len(todo))
            sampler = SeededSampler([seeds[k] for k in todo], *sampling) if seeds is not None else None
            try:
                decode(self.model, self.tokenizer, [prompts[k] for k in todo], max_new, stop, sampler,
                       self._eos_ids(), slots, finisher(todo))
            except torch.OutOfMemoryError:
                if slots == 1:
                    raise
                self.generate_cap = (slots + 1) // 2
                log.warning("compass: generating %d rows at once ran out of device memory; continuing with at most %d",
                            slots, self.generate_cap)
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()

    def _generate_hf(self, prompts: list[list[int]], max_new: int, stop: tuple[str, ...], sampling,
                     seeds: list[int] | None, landed: Callable[[int, Completion], None]) -> None:
        """transformers' generate() in fixed batches of ``generate_cap``, longest prompts first."""
        order = sorted(range(len(prompts)), key=lambda k: -len(prompts[k]))

        def run(batch: list[int]) -> dict[int, Completion]:
            sampler = SeededSampler([seeds[k] for k in batch], *sampling) if seeds is not None else None
            out = generate_with_hf(self.model, self.tokenizer, [prompts[k] for k in batch], max_new, stop, sampler,
                                   self.cfg.generation_kwargs)
            self.usage["prompt_tokens"] += sum(len(prompts[k]) for k in batch)
            self.usage["completion_tokens"] += sum(c.tokens or 0 for c in out)
            return dict(zip(batch, out))

        def shrink(n: int) -> None:
            self.generate_cap = n

        for start in range(0, len(order), self.generate_cap):
            for part in halving_on_oom(order[start:start + self.generate_cap], run, shrink, "generating"):
                for k, completion in part.items():
                    landed(k, completion)

    def _eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        if self.tokenizer.eos_token_id is not None:
            ids.append(self.tokenizer.eos_token_id)
        return set(ids)
