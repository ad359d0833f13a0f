"""Were both runs asked the same prompts? Each dataset's result file carries ``prompt_hash`` (every
sample's id and exact prompt) and ``prompt_preset``: scores over different prompts measure different
things, so the gate refuses to pair them unless told (``--allow-prompt-change``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compass import records
from compass.errors import CompassError
from compass.records import Result

ALLOW_FLAG = "--allow-prompt-change"


def _read(result: Path) -> tuple[str, str | None] | None:
    """(prompt hash, preset) of a result file; None when it has no hash (no file, or an older run)."""
    if not result.exists():
        return None
    r = records.read_record(result, Result)
    return (r.prompt_hash, r.prompt_preset) if r.prompt_hash else None


def _label(hash_and_preset: tuple[str, str | None]) -> str:
    prompt_hash, preset = hash_and_preset
    return f"{prompt_hash} (preset {preset or 'none'})"


@dataclass(frozen=True)
class PromptCheck:
    differ: dict[str, str]  # dataset -> how its prompts differ (only when allowed)
    unchecked: list[str]  # datasets whose baseline or candidate result has no prompt hash


def check_prompts(datasets: dict[str, tuple[Path, Path]], allow_change: bool) -> PromptCheck:
    """Compare the prompt hashes of each dataset's baseline and candidate result files. Differing
    prompts raise one error naming every such dataset, unless ``allow_change``."""
    check = PromptCheck({}, [])
    for name, (base_path, cand_path) in datasets.items():
        base, cand = _read(base_path), _read(cand_path)
        if base is None or cand is None:
            check.unchecked.append(name)
        elif base[0] != cand[0]:
            check.differ[name] = f"prompts differ: baseline {_label(base)}, candidate {_label(cand)}"
    if check.differ and not allow_change:
        (first, text), more = next(iter(check.differ.items())), len(check.differ) - 1
        also = f" (and {more} more dataset(s))" if more else ""
        raise CompassError(f"dataset {first!r}: {text}{also}: the runs asked different prompts, so their scores are "
                           f"not comparable; re-run one with the other's dataset config, or pass {ALLOW_FLAG} to "
                           f"compare them anyway")
    return check
