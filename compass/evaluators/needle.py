"""Needle retrieval: is each hidden value in the model's answer, and the length × depth grid of scores.

One needle: ``correct`` when its value appears as a whole number in the answer (so the primary
metric is accuracy with a Wilson interval). Several needles: ``score`` = the fraction of values
found, order ignored. The grid (``grids["needle"]``) has rows by length and columns by depth,
``None`` where a cell has no samples (e.g. cut by ``test_range``).
"""
from __future__ import annotations

import re

from compass.config import EvaluatorCfg
from compass.errors import CompassError
from compass.evaluators.base import Answer, EvalContext, Evaluation, Outcome
from compass.records import Grid

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


def needle(answers: list[Answer], cfg: EvaluatorCfg, ctx: EvalContext) -> Evaluation:
    where = f"{ctx.model}/{ctx.dataset}"
    cells: dict[tuple[int, float], list[float]] = {}
    outcomes = []
    for a in answers:
        gold = a.prediction.gold  # sampled completions: the first counts
        values = [str(v) for v in gold] if isinstance(gold, list) else [str(gold)]
        fraction = sum(found(v, a.first) for v in values) / len(values)
        outcomes.append(Outcome(score=fraction) if isinstance(gold, list) else Outcome(correct=fraction == 1.0))
        cells.setdefault(cell_of(a.prediction.id, where), []).append(fraction)
    lengths = sorted({length for length, _ in cells})
    depths = sorted({depth for _, depth in cells})
    mean = {cell: sum(v) / len(v) for cell, v in cells.items()}
    grid = Grid(lengths, depths, [[mean.get((length, d)) for d in depths] for length in lengths],
                [[len(cells.get((length, d), [])) for d in depths] for length in lengths])
    return Evaluation(outcomes, grids={"needle": grid})
