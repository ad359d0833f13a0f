"""GSM8K: ``train.jsonl``/``test.jsonl`` rows with ``question`` and ``answer`` ending in ``#### N``."""
from __future__ import annotations

import re
from pathlib import Path

from compass.datasets.base import LoadedDataset, Sample, hub_load, read_jsonl
from compass.errors import CompassError

_CALC = re.compile(r"<<[^>]*>>")  # calculator annotations: not part of the worked solution


def parse_answer(answer: str, where: str) -> tuple[str, str]:
    """(worked solution ending in "The answer is N.", N) from a GSM8K ``answer`` field."""
    if "####" not in answer:
        raise CompassError(f"{where}: field 'answer' has no '#### <number>' final answer")
    reasoning, final = answer.rsplit("####", 1)
    number = final.strip().replace(",", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", number):
        raise CompassError(f"{where}: field 'answer' ends in {final.strip()!r}, not a number")
    solution = _CALC.sub("", reasoning).strip()
    return f"{solution}\nThe answer is {number}.", number


def _samples(rows: list[dict], where: str) -> list[Sample]:
    out = []
    for i, row in enumerate(rows):
        solution, number = parse_answer(str(row["answer"]), f"{where} row {i + 1}")
        out.append(Sample(str(i), {"question": str(row["question"]), "answer": solution}, number))
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
