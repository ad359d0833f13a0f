"""Shared fixtures: a tiny real Llama model and synthetic mini datasets."""
from __future__ import annotations

from pathlib import Path

import pytest

from compass.synthetic import write_gsm8k, write_mmlu
from compass.testing import build_tiny_llama


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture()
def mini_data(tmp_path) -> dict[str, Path]:
    return {"mmlu": write_mmlu(tmp_path / "mmlu", subjects=["elementary_arithmetic", "unit_conversion"],
                               n_dev=3, n_val=2, n_test=6),
            "gsm8k": write_gsm8k(tmp_path / "gsm8k", n_train=3, n_test=8)}
