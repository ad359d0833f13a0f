"""Subjective (open-ended) questions for judge-based evaluation: a jsonl file, one question a line.

Each line: ``id``, ``question``, optional ``reference`` (an answer the judge may compare with) and
optional ``category`` (the results break down by it). ``path`` is the file, or a directory holding
``<test_split>.jsonl``; ``name`` (a category or a list of them) keeps only those categories.
Samples get the fields ``question``, ``reference`` and ``category`` (empty strings when absent);
the gold answer is the reference.
"""
from __future__ import annotations

from pathlib import Path

from compass.datasets.base import LoadedDataset, Sample, read_jsonl
from compass.errors import CompassError


def load(path: str, name=None, train_split: str = "train", test_split: str = "test") -> LoadedDataset:
    root = Path(path)
    file = root / f"{test_split}.jsonl" if root.is_dir() else root
    if not file.is_file():
        raise CompassError(f"{file}: subjective question file not found (a .jsonl file, or a directory "
                           f"holding {test_split}.jsonl)")
    samples, seen = [], set()
    for row in read_jsonl(file, ("id", "question")):
        sid = str(row["id"])
        if sid in seen:
            raise CompassError(f"{file}: duplicate id {sid!r}")
        seen.add(sid)
        for key in ("question", "reference", "category"):
            if row.get(key) is not None and not isinstance(row[key], str):
                raise CompassError(f"{file}: id {sid!r}: field {key!r} must be a string, "
                                   f"got {type(row[key]).__name__}")
        if not row["question"].strip():
            raise CompassError(f"{file}: id {sid!r}: empty question")
        reference, category = row.get("reference") or "", row.get("category") or ""
        samples.append(Sample(sid, {"question": row["question"], "reference": reference, "category": category},
                              reference, category or None))
    if name:
        keep = {name} if isinstance(name, str) else set(name)
        samples = [s for s in samples if s.group in keep]
        if not samples:
            raise CompassError(f"{file}: no questions in category {', '.join(sorted(keep))}")
    return LoadedDataset(samples)
