"""Greedy generation: the model's completion of each prompt."""
from __future__ import annotations

from compass.config import InferencerCfg
from compass.datasets.base import Sample
from compass.models.base import GenerateRequest, Model


def infer(model: Model, items: list[tuple[Sample, str]], cfg: InferencerCfg, max_out_len: int) -> list[dict]:
    requests = [GenerateRequest(prompt, cfg.max_out_len or max_out_len, tuple(cfg.stop)) for _, prompt in items]
    return [{"id": s.id, "prompt": prompt, "prediction": text, "gold": s.gold}
            for (s, prompt), text in zip(items, model.generate(requests))]
