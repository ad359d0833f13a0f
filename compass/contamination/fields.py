"""What of a benchmark sample is checked: its question (the input fields) and its answer (the gold).

    family      question                         answer
    mmlu, ceval question and options A-D         the text of the correct option
    gsm8k       question                         the answer as the file has it (worked steps, #### N)
    math        problem                          solution
    humaneval   prompt                           canonical_solution
    subjective  question                         reference
    custom      reader_cfg.input_columns         the output column's value (the gold)

Multiple-choice options are kept apart so a check may try them in any order (copies shuffle them).
``needle`` datasets (a generated haystack around inserted needles) are not benchmark items: skipped.
"""
from __future__ import annotations

from dataclasses import dataclass

from compass.config import DatasetConfig
from compass.datasets import Sample

OPTION_KEYS = ("A", "B", "C", "D")
SKIPPED_TYPES = {"needle": "a generated haystack, not benchmark items"}
_QUESTION = {"mmlu": ["question"], "ceval": ["question"], "gsm8k": ["question"], "math": ["problem"],
             "humaneval": ["prompt"], "subjective": ["question"]}


@dataclass(frozen=True)
class SampleText:
    id: str
    question: str  # the input fields joined by newlines (options not included)
    options: tuple[str, ...]  # multiple choice: the option texts, in the dataset's order
    answer: str  # the gold answer as text ('' when there is none)
    group: str | None = None

    @property
    def full(self) -> str:
        """The item as one text: question, options, answer."""
        return "\n".join([self.question, *self.options, self.answer])


def _answer(family: str, sample: Sample) -> str:
    fields, gold = sample.fields, sample.gold
    if family in ("mmlu", "ceval") or (isinstance(gold, str) and gold in OPTION_KEYS and gold in fields):
        return fields.get(str(gold), "")
    if family == "gsm8k":
        return fields.get("raw_answer", str(gold))
    if family == "math":
        return fields.get("solution", str(gold))
    if family == "humaneval":  # the solution, not the tests: those are shared scaffolding
        return fields.get("canonical_solution", "")
    if family == "subjective":
        return fields.get("reference", "")
    return gold if isinstance(gold, str) else ""


def sample_texts(cfg: DatasetConfig, samples: list[Sample]) -> list[SampleText]:
    """The checked texts of each sample of a dataset (``cfg.type`` is canonical after validation)."""
    family = str(cfg.type)
    columns = _QUESTION.get(family) or list(cfg.reader_cfg.input_columns or [])
    out = []
    for s in samples:
        mc = all(k in s.fields for k in OPTION_KEYS) and (family in ("mmlu", "ceval") or set(OPTION_KEYS) <= set(columns))
        question_cols = [c for c in (columns or list(s.fields)) if not (mc and c in OPTION_KEYS)]
        question = "\n".join(s.fields[c] for c in question_cols if c in s.fields)
        options = tuple(s.fields[k] for k in OPTION_KEYS) if mc else ()
        out.append(SampleText(s.id, question, options, _answer(family, s), s.group))
    return out
