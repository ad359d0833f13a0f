"""The two questions every model backend answers. Backends never see datasets; datasets never see tokens."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ScoreRequest:
    """Log-likelihood of each continuation given the context (e.g. the choices of a question)."""

    context: str
    continuations: tuple[str, ...]


@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    max_out_len: int
    stop: tuple[str, ...] = field(default=())
    num_samples: int = 1  # completions wanted; more than one only makes sense when sampling
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0  # nucleus sampling: the smallest set of tokens holding this much probability
    seed: int = 0  # sample j draws from derive_seed(seed, j): the same whatever else is in the batch


@dataclass(frozen=True)
class Completion:
    """One generated text and why it ended."""

    text: str  # cut before the first stop string
    finish_reason: str  # "stop" (a stop string), "eos" (the model ended it), "length" (max_out_len reached), "" unknown
    tokens: int | None = None  # tokens generated, where the backend knows


OnDone = Callable[[int, list[Completion]], None]


class Model(Protocol):
    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        """Summed log-probabilities, one list per request, one value per continuation."""
        ...

    def generate(self, requests: list[GenerateRequest], on_done: OnDone | None = None) -> list[Completion]:
        """Completions cut before the first stop string: ``num_samples`` per request, request by
        request (one per request by default). Greedy unless ``temperature > 0``. A backend that
        finishes requests one by one may call ``on_done(i, completions)`` as request ``i`` ends, so
        the caller keeps them before the call returns; others may never call it."""
        ...


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """``text`` up to the earliest occurrence of any stop string."""
    end = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:end]


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from ``parts`` (e.g. a sample id and a sample index), the same on every machine."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
