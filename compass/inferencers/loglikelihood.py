"""Multiple choice by log-likelihood: the choice whose continuation the model finds likeliest."""
from __future__ import annotations

from collections.abc import Callable

from compass.config import InferencerCfg
from compass.errors import PartialResults
from compass.inferencers.base import Inferred, Item
from compass.models.base import Model, ScoreRequest
from compass.prompts.template import fill


def infer(model: Model, items: list[Item], cfg: InferencerCfg, max_out_len: int,
          on_done: Callable[[int, Inferred], None] | None = None) -> list[Inferred]:
    """Scores come back all at once (``on_done`` is never called)."""
    requests = [
        ScoreRequest(prompt.text, tuple(fill(cfg.continuation, {"label": c, "text": s.fields.get(c, c)})
                                        for c in cfg.choices))
        for s, prompt in items
    ]
    try:
        scores = model.score(requests)
    except PartialResults as partial:  # done: request index -> its choices' log-probs
        raise PartialResults({i: _choose(v, cfg) for i, v in partial.done.items()}, partial.cause) from partial.cause
    return [_choose(s, cfg) for s in scores]


def _choose(scores: list[float], cfg: InferencerCfg) -> Inferred:
    best = max(range(len(scores)), key=scores.__getitem__)  # first maximum on ties: deterministic
    return Inferred(cfg.choices[best], choice_logprobs=[round(v, 6) for v in scores])
