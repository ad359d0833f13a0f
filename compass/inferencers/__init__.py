"""Inferencers turn prompted samples into prediction lines, one module per way of asking a model."""
from __future__ import annotations

from compass.inferencers import generate, loglikelihood

INFERENCERS = {"loglikelihood": loglikelihood.infer, "generate": generate.infer}
