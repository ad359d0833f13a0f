"""The evaluator interface: typed answers in, one typed outcome per answer and extra metrics out.

An evaluator never touches files or other rows' records: ``compass.evaluators.scoring`` gives it the
answers (each prediction with its extracted answer), and turns what it returns into scored rows and
metrics with confidence intervals.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from compass.records import Grid, Prediction

if TYPE_CHECKING:
    from compass.config import EvaluatorCfg, Thinking
    from compass.store import RunDir


@dataclass(frozen=True)
class Answer:
    prediction: Prediction
    extracted: str | list[str]  # the postprocessor's output, one per completion when several were sampled

    @property
    def first(self) -> str:
        """The answer that counts when only one can (a judge, a needle): the first completion's."""
        if isinstance(self.extracted, list):
            return self.extracted[0] if self.extracted else ""
        return self.extracted


@dataclass(frozen=True)
class Outcome:
    """An evaluator's verdict on one answer: exactly one of ``correct`` (binary) and ``score`` in [0, 1]."""

    correct: bool | None = None
    score: float | None = None
    details: dict = field(default_factory=dict)  # evidence kept in the scored row (verdicts, judgments)


@dataclass(frozen=True)
class Metric:
    value: float
    ci95: tuple[float, float]


@dataclass(frozen=True)
class Evaluation:
    outcomes: list[Outcome]  # one per answer, in the same order
    metrics: dict[str, Metric] = field(default_factory=dict)  # beyond the primary one (pass@k, per level)
    grids: dict[str, Grid] = field(default_factory=dict)  # tables for the report (needle: length x depth)
    # Extra metrics that are the outcome's mean over some answers (MATH's per level): metric name ->
    # those answers' indices. With repeats (``repeats.py``) they are redone over questions from these.
    subsets: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalContext:
    """Where the answers come from, for evaluators that need more than them (a judge's cache, the
    baseline model's predictions in the same run)."""

    run_dir: RunDir
    model: str
    dataset: str
    extract: Callable[[str], str]  # the dataset's postprocessor (a judge applies it to a baseline's answers)
    thinking: Thinking | None = None  # the model's thinking tags (and whether the prompt opens the block)


class Evaluator(Protocol):
    def __call__(self, answers: list[Answer], cfg: EvaluatorCfg, ctx: EvalContext) -> Evaluation: ...
