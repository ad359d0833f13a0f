"""The two questions every model backend answers. Backends never see datasets; datasets never see tokens."""
from __future__ import annotations

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


class Model(Protocol):
    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        """Summed log-probabilities, one list per request, one value per continuation."""
        ...

    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        """Greedy completions, cut before the first stop string."""
        ...


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """``text`` up to the earliest occurrence of any stop string."""
    end = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:end]
