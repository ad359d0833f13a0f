"""GSM8K: ``train.jsonl``/``test.jsonl`` rows with ``question`` and ``answer`` ending in ``#### N``.

Template columns: ``question``; ``answer``, the worked solution ending in "The answer is N." (the
suite's own prompts); ``raw_answer``, the field as written, calculator notes and ``#### N`` included
(lm-eval's prompts show it); ``solution``, the worked solution without notes or final line (to end it
as another suite does, e.g. OpenCompass's "The answer is {gold}"). The gold is N.
"""
from __future__ import annotations

import re
from pathlib import Path

from compass.datasets.base import LoadedDataset, Sample, hub_load, read_jsonl
from compass.errors import CompassError

_CALC = re.compile(r"<<[^>]*>>")  # calculator annotations: not part of the worked solution


def parse_answer(answer: str, where: str) -> tuple[str, str]:
    """(worked solution ending in "The answer is N.", N) from a GSM8K ``answer`` field."""
    solution, number = split_answer(answer, where)
    return f"{solution}\nThe answer is {number}.", number


def split_answer(answer: str, where: str) -> tuple[str, str]:
    """(worked solution without calculator notes or final line, N) from a GSM8K ``answer`` field."""
    if "####" not in answer:
        raise CompassError(f"{where}: field 'answer' has no '#### <number>' final answer")
    reasoning, final = answer.rsplit("####", 1)
    number = final.strip().replace(",", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", number):
        raise CompassError(f"{where}: field 'answer' ends in {final.strip()!r}, not a number")
    return _CALC.sub("", reasoning).strip(), number


def _samples(rows: list[dict], where: str) -> list[Sample]:
    out = []
    for i, row in enumerate(rows):
        raw = str(row["answer"])
        solution, number = split_answer(raw, f"{where} row {i + 1}")
        fields = {"question": str(row["question"]), "answer": f"{solution}\nThe answer is {number}.",
                  "raw_answer": raw, "solution": solution}
        out.append(Sample(str(i), fields, number))
    return out


def load(path: str, name=None, train_split: str = "train", test_split: str = "test") -> LoadedDataset:
    root = Path(path)
    if root.is_file():
        return LoadedDataset(_samples(read_jsonl(root, ("question", "answer")), str(root)))
    if root.is_dir():
        splits: dict[str, list[Sample]] = {}
        for split in (test_split, train_split):
            file = root / f"{split}.jsonl"
            if not file.is_file():
                if split == train_split:
                    splits[split] = []
                    continue
                raise CompassError(f"{file}: missing GSM8K file for split {split!r}")
            splits[split] = _samples(read_jsonl(file, ("question", "answer")), str(file))
        return LoadedDataset(splits[test_split], splits[train_split])
    ds = hub_load(path, name or "main", "GSM8K file or directory")
    return LoadedDataset(_samples(list(ds[test_split]), f"{path}[{test_split}]"),
                         _samples(list(ds[train_split]), f"{path}[{train_split}]"))
