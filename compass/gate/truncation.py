"""Did the candidate hit the length cap more, or less, than the baseline? A score can move because
answers got cut, not because they got worse: each dataset's result carries ``truncated`` (the share
of completions that hit ``max_out_len``) with its 95% interval, and a change is reported when the two
intervals do not overlap."""
from __future__ import annotations

from pathlib import Path

from compass import records
from compass.records import Result


def _truncated(path: Path) -> tuple[float, list[float]] | None:
    if not path.exists():
        return None
    result = records.read_record(path, Result)
    value = result.metrics.get("truncated")
    return None if value is None else (value, result.ci95["truncated"])


def truncation_note(base_result: Path, cand_result: Path) -> tuple[tuple[float, float] | None, str | None]:
    """((baseline share, candidate share) or None, a note when they clearly differ)."""
    base, cand = _truncated(base_result), _truncated(cand_result)
    if base is None or cand is None:
        return None, None
    (b, (blo, bhi)), (c, (clo, chi)) = base, cand
    if clo > bhi or chi < blo:
        direction = "more" if c > b else "fewer"
        return (b, c), (f"truncation changed: {100 * c:.1f}% of the candidate's completions hit max_out_len "
                        f"[{100 * clo:.1f}, {100 * chi:.1f}] vs {100 * b:.1f}% [{100 * blo:.1f}, {100 * bhi:.1f}]: "
                        f"{direction} answers were cut, which moves the score by itself")
    return (b, c), None
