"""OpenAI request bodies -> checked, typed requests; anything else -> an OpenAI-shaped error.

A field the server does not implement is refused with HTTP 400 naming it, never ignored: a
server that silently drops ``echo`` or ``logprobs`` makes log-likelihood evaluations score at
chance. Fields that change nothing at their neutral value (``presence_penalty: 0``,
``logit_bias: {}``, ``tools: []``, ...) are accepted at that value only.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ..train.chat import ROLES
from .sampler import MAX_LOGPROBS

MAX_N = 16
MAX_STOPS = 16

# field -> the values at which it changes nothing (accepted, then ignored)
NEUTRAL: dict[str, tuple] = {"presence_penalty": (0, 0.0, None), "frequency_penalty": (0, 0.0, None),
                             "logit_bias": (None, {}), "suffix": (None, ""), "tools": (None, []),
                             "tool_choice": (None, "none"), "parallel_tool_calls": (None,), "functions": (None, []),
                             "response_format": (None, {"type": "text"}), "service_tier": (None, "auto", "default"),
                             "store": (None, False), "metadata": (None, {})}
COMMON = ("model", "max_tokens", "temperature", "top_p", "n", "stop", "seed", "stream", "stream_options", "user")
COMPLETION_FIELDS = (*COMMON, "prompt", "logprobs", "echo", "best_of")
CHAT_FIELDS = (*COMMON, "messages", "logprobs", "top_logprobs", "max_completion_tokens")


class APIError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def bad(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


@dataclass
class Sampling:
    max_tokens: int | None  # None: as many as the context allows
    temperature: float
    top_p: float
    n: int
    stop: tuple[str, ...]
    seed: int | None
    stream: bool
    include_usage: bool


@dataclass
class CompletionRequest:
    model: str
    prompts: list[str | list[int]]
    sampling: Sampling
    logprobs: int | None
    echo: bool


@dataclass
class ChatRequest:
    model: str
    messages: list[dict]
    sampling: Sampling
    logprobs: bool
    top_logprobs: int


def _check_fields(body: Any, allowed: tuple[str, ...]) -> dict:
    if not isinstance(body, dict):
        raise bad("the request body must be a JSON object")
    for key, value in body.items():
        if key in allowed:
            continue
        if key in NEUTRAL:
            if value not in NEUTRAL[key]:
                neutral = " or ".join(json.dumps(v) for v in NEUTRAL[key])
                raise bad(f"'{key}' is not supported by this server (accepted only as {neutral})", key,
                          "unsupported_parameter")
            continue
        raise bad(f"Unrecognized request argument supplied: {key}", key, "unsupported_parameter")
    return body


def _int(body: dict, key: str, default: int | None, lo: int, hi: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        bound = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
        raise bad(f"'{key}' must be {bound}, got {value!r}", key)
    return value


def _number(body: dict, key: str, default: float, lo: float, hi: float, lo_open: bool = False) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
            value > hi or value < lo or (lo_open and value == lo):
        raise bad(f"'{key}' must be a number in {'(' if lo_open else '['}{lo}, {hi}], got {value!r}", key)
    return float(value)


def _bool(body: dict, key: str) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad(f"'{key}' must be true or false, got {value!r}", key)
    return value


def _model(body: dict) -> str:
    if not isinstance(body.get("model"), str):
        raise bad("'model' is required (a string)", "model")
    return body["model"]


def _sampling(body: dict, max_tokens_key: str, default_max: int | None) -> Sampling:
    stop = body.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, list) and len(stop) <= MAX_STOPS and all(isinstance(s, str) for s in stop):
        stops = tuple(stop)
    else:
        raise bad(f"'stop' must be a string or a list of at most {MAX_STOPS} strings", "stop")
    stream = _bool(body, "stream")
    options = body.get("stream_options")
    if options is not None and (not stream or not isinstance(options, dict) or set(options) - {"include_usage"}
                                or not isinstance(options.get("include_usage", False), bool)):
        raise bad("'stream_options' is {\"include_usage\": bool}, with stream true only", "stream_options")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise bad(f"'seed' must be an integer, got {seed!r}", "seed")
    if body.get("user") is not None and not isinstance(body["user"], str):
        raise bad("'user' must be a string", "user")
    return Sampling(max_tokens=_int(body, max_tokens_key, default_max, 0),
                    temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
                    top_p=_number(body, "top_p", 1.0, 0.0, 1.0, lo_open=True), n=_int(body, "n", 1, 1, MAX_N) or 1,
                    stop=stops, seed=seed, stream=stream, include_usage=bool(options and options.get("include_usage")))


def parse_completion(body: Any) -> CompletionRequest:
    body = _check_fields(body, COMPLETION_FIELDS)
    model = _model(body)
    prompt = body.get("prompt")
    if isinstance(prompt, str) or (isinstance(prompt, list) and prompt and _is_ids(prompt)):
        prompts: list = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) or (isinstance(p, list) and _is_ids(p))
                                                     for p in prompt):
        prompts = list(prompt)
    else:
        raise bad("'prompt' must be a string, a list of strings, a list of token ids, or a list of such lists", "prompt")
    if any(isinstance(p, list) and not p for p in prompts):
        raise bad("a token-id prompt is empty", "prompt")
    sampling = _sampling(body, "max_tokens", 16)
    best_of = body.get("best_of")
    if best_of is not None and best_of != sampling.n:
        raise bad("'best_of' is not supported by this server (accepted only equal to n)", "best_of",
                  "unsupported_parameter")
    return CompletionRequest(model, prompts, sampling, _int(body, "logprobs", None, 0, MAX_LOGPROBS), _bool(body, "echo"))


def _is_ids(value: list) -> bool:
    return all(isinstance(t, int) and not isinstance(t, bool) for t in value)


def parse_chat(body: Any) -> ChatRequest:
    body = _check_fields(body, CHAT_FIELDS)
    model = _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("'messages' must be a non-empty list", "messages")
    checked = [_message(m, i) for i, m in enumerate(messages)]
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    sampling = _sampling(body, key, None)
    logprobs = _bool(body, "logprobs")
    top = _int(body, "top_logprobs", 0, 0, MAX_LOGPROBS) or 0
    if top and not logprobs:
        raise bad("'top_logprobs' needs 'logprobs': true", "top_logprobs")
    return ChatRequest(model, checked, sampling, logprobs, top)


def _message(m: Any, i: int) -> dict:
    where = f"messages[{i}]"
    if not isinstance(m, dict) or m.get("role") not in ROLES:
        raise bad(f"{where} must be an object with 'role' one of {', '.join(ROLES)}", where)
    extra = set(m) - {"role", "content"}  # 'name' would be dropped by the chat template: refused
    if extra:
        raise bad(f"{where}: '{sorted(extra)[0]}' is not supported by this server", where, "unsupported_parameter")
    content = m.get("content")
    if isinstance(content, list):  # content parts: text only
        if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content):
            raise bad(f"{where}: only text content parts are supported", where, "unsupported_parameter")
        content = "".join(p["text"] for p in content)
    if not isinstance(content, str):
        raise bad(f"{where}: 'content' must be a string or a list of text parts", where)
    return {"role": m["role"], "content": content}
