"""Inferencers turn prompted samples into what the model answered, one module per way of asking.

Each takes ``(model, items, cfg, max_out_len, on_done)`` and returns one :class:`Inferred` per
item; the inference worker turns them into prediction records, and writes those reported early
through ``on_done(k, inferred)`` as soon as they come. A backend that finished only part of a batch
raises :class:`compass.errors.PartialResults`; the inferencer re-raises it with the finished items'
``Inferred`` values, so the worker keeps them.
"""
from __future__ import annotations

from collections.abc import Callable

from compass.inferencers import generate, loglikelihood
from compass.inferencers.base import Inferred

Inferencer = Callable[..., list[Inferred]]

INFERENCERS: dict[str, Inferencer] = {"loglikelihood": loglikelihood.infer, "generate": generate.infer}
INFERENCER_ALIASES = {"PPLInferencer": "loglikelihood", "LoglikelihoodInferencer": "loglikelihood",
                      "GenInferencer": "generate"}

__all__ = ["INFERENCERS", "INFERENCER_ALIASES", "Inferred"]
