"""``compass list``: the dataset and model configs shipped in a checkout, with their abbrs."""
from __future__ import annotations

from pathlib import Path

from compass.config import read_python_config
from compass.errors import CompassError


def _abbrs(file: Path, suffix: str) -> list[str]:
    try:
        raw = read_python_config(file)
    except CompassError as exc:
        return [f"<error: {exc}>"]
    return [item.get("abbr", "?") for key, value in raw.items() if key.endswith(suffix) and isinstance(value, list)
            for item in value if isinstance(item, dict)]


def list_configs(root: Path) -> str:
    lines = []
    for folder, suffix, title in (("datasets_cfg", "datasets", "datasets"), ("models_cfg", "models", "models")):
        files = sorted((root / folder).rglob("*.py"))
        if not files:
            raise CompassError(f"{root / folder}: no config files here (run from the repository root or pass --root)")
        lines.append(f"{title} ({folder}/):")
        for file in files:
            rel = file.relative_to(root)
            lines.append(f"  {rel!s:<45} {', '.join(_abbrs(file, suffix))}")
    return "\n".join(lines)
