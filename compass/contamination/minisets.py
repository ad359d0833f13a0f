"""The five mini benchmarks (MMLU, GSM8K, C-Eval, MATH, HumanEval formats, from ``compass.synthetic``)
written to a folder, loaded through ``compass.datasets``, with other-split items of each as hard
negatives: the material the planted-contamination test and benchmarks use."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compass.config import DatasetConfig
from compass.contamination.fields import SampleText, sample_texts
from compass.datasets import load
from compass.schema import from_dict
from compass.synthetic import MATH_TYPES, write_ceval, write_gsm8k, write_humaneval, write_math, write_mmlu

_COMMON = dict(infer_cfg=dict(prompt_template=dict(template="{question}"), retriever=dict(type="ZeroRetriever"),
                              inferencer=dict(type="GenInferencer")),
               eval_cfg=dict(evaluator=dict(type="AccEvaluator")))


@dataclass(frozen=True)
class MiniSet:
    cfg: DatasetConfig
    items: list[SampleText]  # the test split: the checked items
    negatives: list[SampleText]  # other items of the same templates, never checked


def dataset_dicts(root: Path) -> dict[str, dict]:
    """Dataset config dicts (as users write them) for the mini sets under ``root``."""
    return {
        "mmlu-mini": dict(abbr="mmlu-mini", type="mmlu", path=str(root / "mmlu"),
                          reader_cfg=dict(input_columns=["question", "A", "B", "C", "D"], output_column="answer",
                                          train_split="dev", test_split="test"), **_COMMON),
        "gsm8k-mini": dict(abbr="gsm8k-mini", type="gsm8k", path=str(root / "gsm8k"),
                           reader_cfg=dict(train_split="train"), **_COMMON),
        "ceval-mini": dict(abbr="ceval-mini", type="ceval", path=str(root / "ceval"),
                           reader_cfg=dict(train_split="dev", test_split="val"), **_COMMON),
        "math-mini": dict(abbr="math-mini", type="math", path=str(root / "math"), reader_cfg=dict(train_split="train"),
                          **_COMMON),
        "humaneval-mini": dict(abbr="humaneval-mini", type="humaneval", path=str(root / "humaneval" / "HumanEval.jsonl"),
                               **_COMMON),
    }


def write_minisets(root: Path, seed: int = 0) -> dict[str, MiniSet]:
    """Write and load the mini sets (100 MMLU, 60 GSM8K, 64 C-Eval, 53 MATH, 40 HumanEval test items;
    another ``seed`` draws other items)."""
    write_mmlu(root / "mmlu", n_dev=5, n_val=5, n_test=25, seed=seed)
    write_gsm8k(root / "gsm8k", n_train=60, n_test=60, seed=seed)
    write_ceval(root / "ceval", n_dev=8, n_val=8, n_test=1, seed=seed)
    roomy = [s for s in MATH_TYPES if s != "counting_and_probability"]  # its templates give 5 test items only
    write_math(root / "math", subjects=roomy, n_train=8, n_test=8, seed=seed)
    write_math(root / "math", subjects=["counting_and_probability"], n_train=8, n_test=5, seed=seed)
    write_humaneval(root / "humaneval" / "HumanEval.jsonl", n=40, seed=seed)
    extra = write_humaneval(root / "humaneval-more" / "HumanEval.jsonl", n=60, seed=seed)
    out = {}
    for abbr, raw in dataset_dicts(root).items():
        cfg = from_dict(DatasetConfig, raw, abbr).validate(abbr)
        data = load(cfg)
        negatives = sample_texts(cfg, data.fewshot)
        if abbr == "humaneval-mini":  # no train split: tasks past the test file's, from the same templates
            more = load(from_dict(DatasetConfig, {**raw, "path": str(extra)}, abbr).validate(abbr)).test
            negatives = sample_texts(cfg, more[len(data.test):])
        out[abbr] = MiniSet(cfg, sample_texts(cfg, data.test), negatives)
    return out
