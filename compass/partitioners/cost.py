"""What a dataset costs a model, per sample, in tokens: the prompt (and, for multiple choice, every
choice scored after it) plus the tokens it may generate (``max_out_len`` × completions). Prompt
tokens are counted with the model's tokenizer when it is on disk, else estimated from characters."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from compass import datasets, prompts
from compass.config import DatasetConfig, ModelConfig

log = logging.getLogger(__name__)
CHARS_PER_TOKEN = 4  # the usual estimate for English text with a BPE tokenizer


def counter_for(model: ModelConfig) -> Callable[[list[str]], list[int]]:
    """Token counts of texts, by the model's own tokenizer where it can be loaded locally."""
    path = Path(model.tokenizer_path or model.path)
    if model.type != "openai" and (path / "tokenizer_config.json").is_file():
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(path), **model.tokenizer_kwargs)
            return lambda texts: [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
        except Exception as exc:  # any tokenizer trouble: estimate instead, the plan only needs sizes
            log.warning("%s: tokenizer not loadable for costs (%s); estimating from characters", path, exc)
    return lambda texts: [max(1, len(t) // CHARS_PER_TOKEN) for t in texts]


def sample_costs(model: ModelConfig, ds: DatasetConfig, count: Callable[[list[str]], list[int]]) -> list[int]:
    """The cost of each test sample of ``ds`` (after ``test_range``) for ``model``, in sample order."""
    items = prompts.prompts_for(ds, datasets.load(ds), f"dataset {ds.abbr!r}")
    inferencer = ds.infer_cfg.inferencer
    texts = [p.text for _, p in items]
    costs = count(texts) if texts else []
    if inferencer.type == "loglikelihood":  # each choice is scored after the prompt
        extra = sum(count([c for c in inferencer.choices])) if inferencer.choices else 0
        return [c + extra for c in costs]
    generated = (inferencer.max_out_len or model.max_out_len) * inferencer.num_samples
    return [c + generated for c in costs]
