"""Per-sample correctness: exact match of the extracted answer, or numeric equality."""
from __future__ import annotations

from compass.evaluators.postprocess import normalize_number


def exact(extracted: str, gold: str) -> bool:
    return extracted.strip() == str(gold).strip()


def numeric(extracted: str, gold: str) -> bool:
    try:
        return abs(float(normalize_number(extracted)) - float(normalize_number(str(gold)))) < 1e-6
    except ValueError:
        return False


EVALUATORS = {"accuracy": exact, "numeric_match": numeric}
