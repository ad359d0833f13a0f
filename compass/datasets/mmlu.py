"""MMLU: ``data/{dev,val,test}/<subject>_<split>.csv`` (no header: question,A,B,C,D,answer) or a hub name.

Template columns: ``question``, ``A`` .. ``D`` as written; ``question_stripped``, the question without
surrounding whitespace (lm-eval's prompts show ``question.strip()``); ``subject``, the subject's name
with spaces for underscores. The gold is the answer letter.
"""
from __future__ import annotations

import csv
from pathlib import Path

from compass.datasets.base import LoadedDataset, Sample, hub_load, load_subject_csvs, subset_names
from compass.errors import CompassError

LETTERS = ("A", "B", "C", "D")
HUB_SPLITS = {"dev": "dev", "val": "validation", "test": "test"}


def load(path: str, name: str | list[str] | None, train_split: str = "dev", test_split: str = "test") -> LoadedDataset:
    root = Path(path)
    if root.exists():
        return _load_local(root, name, train_split, test_split)
    return _load_hub(path, name, train_split, test_split)


def _data_dir(root: Path) -> Path:
    if (root / "data").is_dir():
        return root / "data"
    if root.is_dir():
        return root
    raise CompassError(f"{root}: expected the MMLU directory (holding data/dev, data/val, data/test)")


def _load_local(root: Path, name, train_split: str, test_split: str) -> LoadedDataset:
    return load_subject_csvs(_data_dir(root), name, train_split, test_split, _read_csv, "MMLU")


def _read_csv(path: Path, subject: str) -> list[Sample]:
    if not path.is_file():
        raise CompassError(f"{path}: missing MMLU file")
    samples: list[Sample] = []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            for lineno, row in enumerate(csv.reader(f), 1):
                if not row:
                    continue
                if len(row) != 6:
                    raise CompassError(f"{path}:{lineno}: expected 6 columns (question,A,B,C,D,answer), got {len(row)}")
                answer = row[5].strip()
                if answer not in LETTERS:
                    raise CompassError(f"{path}:{lineno}: column 'answer' is {answer!r}, expected one of A, B, C, D")
                samples.append(Sample(f"{subject}/{len(samples)}", _fields(row[:5], subject), answer, subject))
    except UnicodeDecodeError as exc:
        raise CompassError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise CompassError(f"{path}: malformed CSV ({exc})") from None
    return samples


def _fields(texts: list[str], subject: str) -> dict[str, str]:
    """The template columns of one question: ``texts`` is the question and its four options."""
    return {**dict(zip(("question", *LETTERS), texts)), "question_stripped": texts[0].strip(),
            "subject": subject.replace("_", " ")}


def _load_hub(path: str, name, train_split: str, test_split: str) -> LoadedDataset:
    subjects = subset_names(name) or ["all"]
    test: list[Sample] = []
    fewshot: list[Sample] = []
    for subject in subjects:
        ds = hub_load(path, subject, "MMLU directory")
        for split, out in ((test_split, test), (train_split, fewshot)):
            for i, row in enumerate(ds[HUB_SPLITS.get(split, split)]):
                group = row.get("subject") or subject
                fields = _fields([row["question"], *row["choices"]], group)
                out.append(Sample(f"{group}/{i}", fields, LETTERS[int(row["answer"])], group))
    return LoadedDataset(test, fewshot)
