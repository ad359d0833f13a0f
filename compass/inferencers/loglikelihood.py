"""Multiple choice by log-likelihood: the choice whose continuation the model finds likeliest."""
from __future__ import annotations

from compass.config import InferencerCfg
from compass.datasets.base import Sample
from compass.models.base import Model, ScoreRequest
from compass.prompts.template import fill


def infer(model: Model, items: list[tuple[Sample, str]], cfg: InferencerCfg, max_out_len: int) -> list[dict]:
    requests = [
        ScoreRequest(prompt, tuple(fill(cfg.continuation, {"label": c, "text": s.fields.get(c, c)}) for c in cfg.choices))
        for s, prompt in items
    ]
    lines = []
    for (sample, prompt), scores in zip(items, model.score(requests)):
        best = max(range(len(scores)), key=scores.__getitem__)  # first maximum on ties: deterministic
        lines.append({"id": sample.id, "prompt": prompt, "prediction": cfg.choices[best], "gold": sample.gold,
                      "scores": [round(v, 6) for v in scores]})
    return lines
