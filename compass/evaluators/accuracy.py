"""Per-sample correctness by exact match of the extracted answer, or by numeric equality."""
from __future__ import annotations

from compass.config import EvalCfg
from compass.evaluators.postprocess import normalize_number


def exact_match(rows: list[dict], cfg: EvalCfg, ctx=None) -> dict:
    for row in rows:
        row["correct"] = str(row["extracted"]).strip() == str(row["gold"]).strip()
    return {}


def _same_number(extracted: str, gold: str) -> bool:
    try:
        return abs(float(normalize_number(extracted)) - float(normalize_number(str(gold)))) < 1e-6
    except ValueError:
        return False


def numeric_match(rows: list[dict], cfg: EvalCfg, ctx=None) -> dict:
    for row in rows:
        row["correct"] = _same_number(str(row["extracted"]), row["gold"])
    return {}
