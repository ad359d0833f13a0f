"""What a run was made with: versions, git commit, times. Recorded once, read by every report."""
from __future__ import annotations

import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

from compass import __version__

PACKAGES = ("torch", "transformers", "tokenizers", "datasets", "numpy", "scipy", "vllm", "openai")


def environment() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"compass_version": __version__, "python": platform.python_version(), "packages": versions,
            "git_commit": git_commit(Path.cwd())}


def git_commit(where: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
