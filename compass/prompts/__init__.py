"""Prompts for a dataset's test samples: few-shot examples chosen, templates filled."""
from __future__ import annotations

from compass.config import DatasetConfig
from compass.datasets.base import LoadedDataset, Sample
from compass.prompts.retrievers import Retriever
from compass.prompts.template import Prompt, build_prompt, fill


def prompts_for(cfg: DatasetConfig, data: LoadedDataset, where: str) -> list[tuple[Sample, Prompt]]:
    infer = cfg.infer_cfg
    reader = cfg.reader_cfg
    retriever = Retriever(infer.retriever, data.fewshot, reader.input_columns, where,
                          same_split=reader.train_split == reader.test_split)
    return [(s, build_prompt(infer, s, retriever.select(s))) for s in data.test]


__all__ = ["Prompt", "fill", "prompts_for"]
