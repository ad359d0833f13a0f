"""OpenAI response bodies: completions (with echo and vLLM-style log-probs), chat completions, and
their streamed chunks.

Completion log-probs follow vLLM: ``tokens[i]`` is the decode of that one token (special tokens
shown, a character split over byte tokens as U+FFFD pieces), the first prompt token has log-prob
``None``, ``top_logprobs[i]`` holds the actual token first and then the ``logprobs`` likeliest,
and ``text_offset`` is the running length of the token strings from 0.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

from tokenizers import Tokenizer

from .sequence import TokenLogprob


class TokenText:
    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.text = lru_cache(maxsize=1 << 16)(self._decode)

    def _decode(self, token: int) -> str:
        return self.tokenizer.decode([token], skip_special_tokens=False)


@dataclass
class Choice:
    """One answer being assembled: prompt i, sample j."""
    index: int
    prompt_ids: list[int]
    prompt_text: str
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    prompt_logprobs: list[TokenLogprob | None] | None = None
    finish_reason: str | None = None
    cached_tokens: int = 0


def completion_logprobs(names: TokenText, entries: list[tuple[int, TokenLogprob | None]], k: int, offset: int = 0) -> dict:
    tokens: list[str] = []
    values: list[float | None] = []
    tops: list[dict | None] = []
    offsets: list[int] = []
    for token, entry in entries:
        text = names.text(token)
        offsets.append(offset)
        offset += len(text)
        tokens.append(text)
        if entry is None:
            values.append(None)
            tops.append(None)
            continue
        values.append(entry.logprob)
        top = {text: entry.logprob}
        for alt, lp in entry.top[:k]:
            top.setdefault(names.text(alt), lp)
        tops.append(top)
    return {"tokens": tokens, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets}


def choice_logprobs(names: TokenText, c: Choice, k: int, echo: bool) -> dict:
    entries: list[tuple[int, TokenLogprob | None]] = []
    if echo and c.prompt_logprobs is not None:
        entries += list(zip(c.prompt_ids, c.prompt_logprobs))
    entries += [(e.token, e) for e in c.logprobs]
    return completion_logprobs(names, entries, k)


def usage(choices: list[Choice]) -> dict:
    seen: dict[int, int] = {}
    for c in choices:  # a prompt counts once, however many samples it has
        seen[id(c.prompt_ids)] = len(c.prompt_ids)
    prompt, completion = sum(seen.values()), sum(len(c.token_ids) for c in choices)
    cached = sum(c.cached_tokens for c in choices)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached}}


def completion_body(model: str, choices: list[Choice], names: TokenText, logprobs: int | None, echo: bool) -> dict:
    out = []
    for c in choices:
        out.append({"index": c.index, "text": (c.prompt_text if echo else "") + c.text,
                    "logprobs": choice_logprobs(names, c, logprobs, echo) if logprobs is not None else None,
                    "finish_reason": c.finish_reason})
    return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": out, "usage": usage(choices)}


def chat_logprobs(names: TokenText, entries: list[TokenLogprob], k: int) -> dict:
    def item(token: int, lp: float) -> dict:
        text = names.text(token)
        return {"token": text, "logprob": lp, "bytes": list(text.encode("utf-8"))}
    return {"content": [{**item(e.token, e.logprob), "top_logprobs": [item(t, v) for t, v in e.top[:k]]}
                        for e in entries]}


def chat_body(model: str, choices: list[Choice], names: TokenText, logprobs: bool, top: int) -> dict:
    out = [{"index": c.index, "message": {"role": "assistant", "content": c.text},
            "logprobs": chat_logprobs(names, c.logprobs, top) if logprobs else None, "finish_reason": c.finish_reason}
           for c in choices]
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": out, "usage": usage(choices)}


def completion_chunk(rid: str, model: str, created: int, index: int, text: str, logprobs: dict | None,
                     finish_reason: str | None) -> dict:
    return {"id": rid, "object": "text_completion", "created": created, "model": model,
            "choices": [{"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish_reason}]}


def chat_chunk(rid: str, model: str, created: int, index: int, delta: dict, logprobs: dict | None,
               finish_reason: str | None) -> dict:
    return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}]}


def usage_chunk(rid: str, obj: str, model: str, created: int, choices: list[Choice]) -> dict:
    return {"id": rid, "object": obj, "created": created, "model": model, "choices": [], "usage": usage(choices)}
