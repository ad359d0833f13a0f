"""Shared fixtures: a tiny packed corpus (built once per session) and a subprocess helper."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 240, torchrun: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable]
    if torchrun:
        cmd += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(torchrun)]
    cmd += ["-m", "reference_model.cli", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def cli():
    """``cli(*args, timeout=..., torchrun=N)`` runs ``refmodel`` in a subprocess."""
    return run_cli


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A packed corpus of generated sentences with a small trained tokenizer."""
    from reference_model.configio import build
    from reference_model.data.pipeline import DataConfig, run

    root = tmp_path_factory.mktemp("corpus")
    names = ["Ana", "Ben", "Cleo", "Dev", "Emma", "Finn"]
    with (root / "src.jsonl").open("w") as f:
        for i in range(400):
            a, b = i % 37 + 2, i % 23 + 3
            text = (f"{names[i % 6]} has {a} apples and buys {b} more, so {names[i % 6]} has {a + b} apples. "
                    f"The capital of Land{i % 50} is City{(i * 7) % 50}. Story number {i} ends here.")
            f.write(json.dumps({"id": str(i), "text": text}) + "\n")
    cfg = build(DataConfig, {"sources": [{"type": "jsonl", "path": str(root / "src.jsonl")}],
                             "dedup": {"near": False}, "quality": {"threshold": 0.0},
                             "clean": {"max_top_ngram_ratio": 1.0}, "tokenizer_vocab": 320,
                             "pack": {"val_fraction": 0.05}})
    run(cfg, root / "data", log=lambda *_: None)
    return root / "data"
