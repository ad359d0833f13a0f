"""Generation: the model's completion of each prompt, greedy or ``num_samples`` seeded samples."""
from __future__ import annotations

from collections.abc import Callable

from compass.config import InferencerCfg
from compass.errors import PartialResults
from compass.inferencers.base import Inferred, Item
from compass.models.base import Completion, GenerateRequest, Model, derive_seed


def infer(model: Model, items: list[Item], cfg: InferencerCfg, max_out_len: int,
          on_done: Callable[[int, Inferred], None] | None = None) -> list[Inferred]:
    """``prediction`` is a string, or a list of ``num_samples`` strings when > 1. ``on_done(k,
    inferred)`` as item ``k`` ends, where the backend reports completions before it returns."""
    n = cfg.num_samples
    # The seed comes from the sample id alone, so a sample's completions never depend on its batch.
    requests = [GenerateRequest(prompt.text, cfg.max_out_len or max_out_len, tuple(cfg.stop), num_samples=n,
                                temperature=cfg.temperature, top_p=cfg.top_p, seed=derive_seed(s.id))
                for s, prompt in items]
    try:
        report = None if on_done is None else lambda k, completions: on_done(k, _inferred(completions, n))
        completions = model.generate(requests, report)
    except PartialResults as partial:  # done: request index -> its completions
        raise PartialResults({i: _inferred(v if isinstance(v, list) else [v], n) for i, v in partial.done.items()},
                             partial.cause) from partial.cause
    return [_inferred(completions[k * n:(k + 1) * n], n) for k in range(len(items))]


def _inferred(completions: list[Completion], n: int) -> Inferred:
    texts = [c.text for c in completions]
    reasons = [c.finish_reason or "unknown" for c in completions]
    tokens = [c.tokens for c in completions]
    return Inferred(texts[0] if n == 1 else texts, finish_reason=reasons[0] if n == 1 else reasons,
                    completion_tokens=tokens[0] if n == 1 else (None if None in tokens else [t or 0 for t in tokens]))
