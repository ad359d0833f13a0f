"""Generation: the model's completion of each prompt, greedy or ``num_samples`` seeded samples."""
from __future__ import annotations

from compass.config import InferencerCfg
from compass.datasets.base import Sample
from compass.models.base import GenerateRequest, Model, derive_seed


def infer(model: Model, items: list[tuple[Sample, str]], cfg: InferencerCfg, max_out_len: int) -> list[dict]:
    """One line per sample; ``prediction`` is a string, or a list of ``num_samples`` strings when > 1."""
    n = cfg.num_samples
    # The seed comes from the sample id alone, so a sample's completions never depend on its batch.
    requests = [GenerateRequest(prompt, cfg.max_out_len or max_out_len, tuple(cfg.stop), num_samples=n,
                                temperature=cfg.temperature, top_p=cfg.top_p, seed=derive_seed(s.id))
                for s, prompt in items]
    texts = model.generate(requests)
    return [{"id": s.id, "prompt": prompt, "prediction": texts[k * n] if n == 1 else texts[k * n:(k + 1) * n],
             "gold": s.gold} for k, (s, prompt) in enumerate(items)]
