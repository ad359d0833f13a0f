"""Atomic checkpoints with everything needed for an exact resume.

Layout: ``<out>/checkpoints/step_00000050/{model.pt, optim.pt, rng_rank<r>.pt, state.json}``.
A checkpoint is written into ``step_X.tmp`` and renamed when complete, so a SIGKILL at any point
leaves either the previous checkpoints or a complete new one, never a half-written one.
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

_FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def _barrier():
    if dist.is_initialized():
        dist.barrier()


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def list_checkpoints(out: str | Path) -> list[Path]:
    root = Path(out) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_") and not p.name.endswith(".tmp"))


def save(out: str | Path, step: int, model, optimizer, scheduler, state: dict, keep: int) -> Path:
    """Collective: every rank calls it (FSDP gathers shards); rank 0 writes model/optimizer."""
    root = Path(out) / "checkpoints"
    final, tmp = root / f"step_{step:08d}", root / f"step_{step:08d}.tmp"
    model_sd = get_model_state_dict(model, options=_FULL)
    optim_sd = get_optimizer_state_dict(model, optimizer, options=_FULL)
    if _rank() == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    torch.save(rng_state(), tmp / f"rng_rank{_rank()}.pt")
    if _rank() == 0:
        torch.save(model_sd, tmp / "model.pt")
        torch.save({"optimizer": optim_sd, "scheduler": scheduler.state_dict()}, tmp / "optim.pt")
    _barrier()
    if _rank() == 0:
        (tmp / "state.json").write_text(json.dumps({**state, "step": step}, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in list_checkpoints(out)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    _barrier()
    return final


def load(path: Path, model, optimizer, scheduler) -> dict:
    model_sd = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    set_model_state_dict(model, model_sd, options=_FULL)
    opt = torch.load(path / "optim.pt", map_location="cpu", weights_only=False)
    set_optimizer_state_dict(model, optimizer, opt["optimizer"], options=_FULL)
    scheduler.load_state_dict(opt["scheduler"])
    rng_file = path / f"rng_rank{_rank()}.pt"
    if rng_file.exists():
        set_rng_state(torch.load(rng_file, weights_only=False))
    return json.loads((path / "state.json").read_text())


def load_model_weights(path: str | Path) -> tuple[dict, dict]:
    """(state_dict, state.json) of a checkpoint dir, for export and evaluation."""
    path = Path(path)
    return (torch.load(path / "model.pt", map_location="cpu", weights_only=True),
            json.loads((path / "state.json").read_text()))
