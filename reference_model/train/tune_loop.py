"""The loop SFT and DPO share with pretraining's conventions: AdamW with warmup + cosine, gradient
clipping, ``metrics.jsonl`` rows, a tqdm bar, atomic checkpoints and an exact resume.

A ``Task`` supplies what differs: ``train_step(model, start)`` runs the micro-batches of one
optimizer step from sample ``start`` on (calling ``backward``) and returns its metrics,
``evaluate(model)`` the held-out ones. Sample *i* of a run is a pure function of ``(seed, i)``,
so the checkpoint's sample count is the whole data position.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

import torch
from tqdm import tqdm

from ..model import Transformer
from . import checkpoint as ckpt
from .metrics import MetricsLog, plot_loss
from .pretrain import lr_factor
from .tune_config import TuneConfig

logger = logging.getLogger(__name__)


class Task(Protocol):
    name: str
    samples_per_step: int

    def train_step(self, model: Transformer, start: int) -> dict: ...

    def evaluate(self, model: Transformer) -> dict: ...


def device_of(cfg: TuneConfig) -> torch.device:
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if cfg.threads and not use_cuda:
        torch.set_num_threads(cfg.threads)
    return torch.device("cuda" if use_cuda else "cpu")


def _optimizer(model: torch.nn.Module, cfg: TuneConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() >= 2 and p.requires_grad]
    no_decay = [p for p in model.parameters() if p.dim() < 2 and p.requires_grad]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8)


def run(task: Task, model: Transformer, cfg: TuneConfig, tokenizer_dir: Path, extra_plot=None) -> dict:
    """Train ``model`` (already on its device) for ``cfg.max_steps`` steps; returns the summary."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    optimizer = _optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))  # type: ignore[arg-type]
    log = MetricsLog(out / "metrics.jsonl", True)
    step, samples = 0, 0
    existing = ckpt.list_checkpoints(out) if cfg.resume else []
    if existing:
        state = ckpt.load(existing[-1], model, optimizer, scheduler)
        step, samples = state["step"], state["samples"]
        log.truncate_after(step)
        logger.info("%s: resumed from %s (step %d)", task.name, existing[-1], step)
    elif log.path.exists():
        log.path.unlink()

    def state_extra() -> dict:
        return {"samples": samples, "model_config": model.cfg.to_dict(), "train_config": asdict(cfg),
                "tokenizer": str(tokenizer_dir), "stage": task.name}

    if step == 0 and cfg.eval_every:  # where the held-out metrics start from (the init model's)
        log.write({"step": 0, **{k: round(float(v), 6) for k, v in task.evaluate(model).items()}})
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not cfg.progress, desc=task.name, dynamic_ncols=True,
               mininterval=1.0)
    t_start, t_last, tokens_since = time.perf_counter(), time.perf_counter(), 0
    last: dict = {}
    while step < cfg.max_steps:
        model.train()
        metrics = task.train_step(model, samples)
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        samples += task.samples_per_step
        step += 1
        tokens_since += int(metrics.pop("tokens", 0))
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            now = time.perf_counter()
            row = {"step": step, **{k: round(float(v), 6) for k, v in metrics.items()}, "lr": lr,
                   "grad_norm": round(float(gnorm), 4), "tokens_per_s": round(tokens_since / (now - t_last), 1)}
            if (cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.max_steps:
                row.update({k: round(float(v), 6) for k, v in task.evaluate(model).items()})
            log.write(row)
            last = row
            bar.set_postfix(loss=f"{row.get('loss', float('nan')):.3f}")
            t_last, tokens_since = time.perf_counter(), 0
        if (cfg.ckpt_every and step % cfg.ckpt_every == 0) or step == cfg.max_steps:
            ckpt.save(out, step, model, optimizer, scheduler, state_extra(), cfg.keep_ckpts)
            t_last = time.perf_counter()  # checkpoint time is not training throughput
    bar.close()
    summary = {"stage": task.name, "steps": step, "samples": samples, "last": last,
               "wall_s": round(time.perf_counter() - t_start, 2), "params": model.num_params()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if cfg.plot:
        plot_loss(out / "metrics.jsonl", out / "loss.png")
        if extra_plot is not None:
            extra_plot(out / "metrics.jsonl", out)
    return summary
