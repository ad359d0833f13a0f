"""Next tokens from logits: greedy at temperature 0, else seeded sampling with temperature and top-p;
and the log-probs the API returns (of the model's own distribution, before temperature)."""
from __future__ import annotations

import torch

from .sequence import SamplingParams, TokenLogprob

MAX_LOGPROBS = 5  # alternatives per token the API returns at most (OpenAI's limit); prompt log-probs keep this many


def draw(logits: torch.Tensor, params: list[SamplingParams], generators: list[torch.Generator | None]) -> list[int]:
    """One token per row of ``logits`` (rows, vocab)."""
    tokens = logits.argmax(-1).tolist()
    for i, p in enumerate(params):
        if p.temperature > 0:
            tokens[i] = _sample(logits[i].float(), p.temperature, p.top_p, generators[i])
    return tokens


def _sample(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None) -> int:
    probs = (logits / temperature).softmax(-1)
    if top_p < 1.0:
        ranked, order = probs.sort(descending=True)
        keep = ranked.cumsum(-1) - ranked < top_p  # the smallest set of likeliest tokens holding top_p
        ranked = ranked * keep
        return int(order[torch.multinomial(ranked / ranked.sum(), 1, generator=generator)])
    return int(torch.multinomial(probs, 1, generator=generator))


def logprob_entries(logits: torch.Tensor, tokens: list[int], top: int) -> list[TokenLogprob]:
    """The log-prob of ``tokens[i]`` under row i, with the ``top`` likeliest alternatives."""
    return entries_from_logp(logits.float().log_softmax(-1), tokens, top)


def entries_from_logp(logp: torch.Tensor, tokens: list[int], top: int) -> list[TokenLogprob]:
    if not tokens:
        return []
    picked = logp[torch.arange(len(tokens)), torch.tensor(tokens)].tolist()
    if top > 0:
        values, ids = logp.topk(top, dim=-1)
        tops = [list(zip(i, v)) for i, v in zip(ids.tolist(), values.tolist())]
    else:
        tops = [[] for _ in tokens]
    return [TokenLogprob(t, lp, alt) for t, lp, alt in zip(tokens, picked, tops)]


def entry_from_row(logp: torch.Tensor, token: int, top: int) -> TokenLogprob:
    return entries_from_logp(logp.unsqueeze(0), [token], top)[0]
