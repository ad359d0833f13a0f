"""Prompt assembly: fill ``{column}`` placeholders and prepend few-shot examples.

Only placeholders naming a column are replaced, so templates may contain other braces
(LaTeX, JSON, code) untouched.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from compass.config import InferCfg
from compass.datasets.base import Sample

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template: str, values: Mapping[str, object]) -> str:
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


@dataclass(frozen=True)
class Prompt:
    text: str
    question_at: int  # where the sample's own part starts, after ``begin`` and the few-shot examples


def build_prompt(cfg: InferCfg, sample: Sample, shots: list[Sample]) -> Prompt:
    """``begin`` + each shot rendered by ``ice_template`` + the sample rendered by ``prompt_template``."""
    parts = [fill(cfg.prompt_template.begin, sample.fields)]
    if shots and cfg.ice_template is not None:
        parts += [fill(cfg.ice_template.template, {**s.fields, "gold": s.gold}) for s in shots]
    head = "".join(parts)
    return Prompt(head + fill(cfg.prompt_template.template, sample.fields), len(head))
