"""What an inferencer returns per sample, before the worker makes it a prediction record."""
from __future__ import annotations

from dataclasses import dataclass

from compass.datasets.base import Sample
from compass.prompts.template import Prompt


@dataclass(frozen=True)
class Inferred:
    prediction: str | list[str]
    choice_logprobs: list[float] | None = None
    finish_reason: str | list[str] | None = None  # per completion: stop, eos, length or unknown
    completion_tokens: int | list[int] | None = None


Item = tuple[Sample, Prompt]
