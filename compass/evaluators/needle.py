"""Needle retrieval: is each hidden value in the model's answer, and the length × depth grid of scores.

One needle: ``correct`` when its value appears as a whole number in the answer (so the primary
metric is accuracy with a Wilson interval). Several needles: ``score`` = the fraction of values
found, order ignored. The grid comes back under ``"grid"`` (compass.evaluators.evaluate stores it
in the result as is): ``{"lengths", "depths", "score": [[...]], "n": [[...]]}``, rows by length,
columns by depth, ``None`` where a cell has no samples (e.g. cut by ``test_range``).
"""
from __future__ import annotations

import re

from compass.config import EvalCfg
from compass.errors import CompassError

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # "4,821,903" is 4821903; "1234567,7654321" stays two


def found(value: str, answer: str) -> bool:
    """``value`` occurs in ``answer`` as a whole number, not as part of a longer one."""
    return re.search(rf"(?<!\d){re.escape(value)}(?!\d)", _THOUSANDS.sub("", answer)) is not None


def cell_of(sample_id: str, where: str) -> tuple[int, float]:
    """(length, depth) from a needle sample id ``<length>/<depth>/<index>``."""
    parts = str(sample_id).split("/")
    try:
        return int(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        raise CompassError(f"{where}: sample id {sample_id!r} is not '<length>/<depth>/<index>'; "
                           f"the needle evaluator scores needle datasets only") from None


def needle(rows: list[dict], cfg: EvalCfg, ctx=None) -> dict:
    where = f"{ctx.model}/{ctx.dataset}" if ctx is not None else "needle"
    cells: dict[tuple[int, float], list[float]] = {}
    for row in rows:
        extracted = row["extracted"]
        answer = str(extracted[0] if isinstance(extracted, list) else extracted)  # sampled: the first counts
        gold = row["gold"]
        values = [str(v) for v in gold] if isinstance(gold, list) else [str(gold)]
        outcome = sum(found(v, answer) for v in values) / len(values)
        # The other outcome key is dropped: a re-scored line may still hold one from an earlier evaluator.
        if isinstance(gold, list):
            row.pop("correct", None)
            row["score"] = outcome
        else:
            row.pop("score", None)
            row["correct"] = outcome == 1.0
        cells.setdefault(cell_of(row["id"], where), []).append(outcome)
    lengths = sorted({length for length, _ in cells})
    depths = sorted({depth for _, depth in cells})
    mean = {cell: sum(v) / len(v) for cell, v in cells.items()}
    grid = {"lengths": lengths, "depths": depths,
            "score": [[mean.get((length, d)) for d in depths] for length in lengths],
            "n": [[len(cells.get((length, d), [])) for d in depths] for length in lengths]}
    return {"grid": grid}
