"""Pretraining loop: single process or ``torchrun`` (DDP on gloo/nccl, FSDP2 on GPU).

Global batch = micro_batch * grad_accum * world_size sequences.  Micro-step m of rank r reads
samples [base + (m * world + r) * micro_batch, ... + micro_batch), so one process with
grad_accum = k * world sees exactly the samples that ``world`` processes with grad_accum = k see.
"""
from __future__ import annotations

import logging
import math
import os
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from ..configio import ConfigError
from ..model import Transformer, named_config
from . import checkpoint as ckpt
from .config import TrainConfig
from .data import TokenWindows
from .metrics import MetricsLog, peak_flops, plot_loss

logger = logging.getLogger(__name__)


def _setup(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    device = torch.device(f"cuda:{local}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if cfg.threads and not use_cuda:
        torch.set_num_threads(cfg.threads)
    return rank, world, device


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to 1, then cosine decay to min_lr_ratio at max_steps."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(cfg.max_steps - cfg.warmup_steps, 1)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    # No weight decay on norms' gains (1-d); decay matrices and embeddings.
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8)


def _wrap(model: Transformer, cfg: TrainConfig, world: int, device: torch.device, bf16: bool):
    if cfg.fsdp and world > 1:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16 if bf16 else torch.float32, reduce_dtype=torch.float32)
        for block in model.layers:
            fully_shard(block, mp_policy=mp)
        return fully_shard(model, mp_policy=mp)
    if world > 1:
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return model


def _check_inputs(cfg: TrainConfig) -> None:
    """Problems with the inputs, found before anything is set up or written."""
    if not (Path(cfg.data) / "manifest.json").is_file():
        raise ConfigError(f"config key 'data': {cfg.data} has no manifest.json (run `refmodel data` first)")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"config key 'device': cuda requested but this torch {torch.__version__} sees no CUDA device")


def pretrain(cfg: TrainConfig) -> dict:
    _check_inputs(cfg)
    train = TokenWindows(cfg.data, "train", cfg.seq_len, cfg.seed)
    val = TokenWindows(cfg.data, "val", cfg.seq_len, cfg.seed)
    if len(train) == 0:
        raise ConfigError(f"config key 'data': no training window of seq_len {cfg.seq_len} in {cfg.data}")
    rank, world, device = _setup(cfg)
    out = Path(cfg.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(cfg.seed)
    mcfg = named_config(cfg.model, **{**cfg.model_overrides, "vocab_size": train.vocab_size,
                                      "max_seq_len": max(cfg.seq_len, cfg.model_overrides.get("max_seq_len", 0))})
    raw = Transformer(mcfg).to(device)
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")
    model = _wrap(raw, cfg, world, device, bf16)
    optimizer = _optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    sharded = cfg.fsdp and world > 1  # FSDP2's MixedPrecisionPolicy casts params itself; no autocast then
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 and not sharded else nullcontext()

    global_batch = cfg.micro_batch * cfg.grad_accum * world
    step, samples = 0, 0
    log = MetricsLog(out / "metrics.jsonl", rank == 0)
    existing = ckpt.list_checkpoints(out) if cfg.resume else []
    if existing:
        state = ckpt.load(existing[-1], model, optimizer, scheduler)
        step, samples = state["step"], state["samples"]
        if state.get("global_batch") != global_batch and rank == 0:
            logger.warning("global batch changed %s -> %s on resume", state.get("global_batch"), global_batch)
        log.truncate_after(step)
    elif rank == 0 and log.path.exists():
        log.path.unlink()

    fpt = raw.flops_per_token(cfg.seq_len)
    peak = peak_flops(device, cfg.peak_flops)
    bar = tqdm(total=cfg.max_steps, initial=step, disable=rank != 0 or not cfg.progress, desc="pretrain",
               dynamic_ncols=True, mininterval=1.0)
    if rank == 0:
        logger.info(f"model {cfg.model}: {raw.num_params() / 1e6:.2f}M params, {fpt / 1e6:.1f} MFLOP/token, "
                 f"world {world}, global batch {global_batch} x {cfg.seq_len} tokens, start step {step}")

    def state_dict_extra() -> dict:
        return {"samples": samples, "tokens": samples * cfg.seq_len, "global_batch": global_batch,
                "model_config": mcfg.to_dict(), "train_config": asdict(cfg), "tokenizer": train.tokenizer_path}

    t_start, t_last, tok_since, last_loss = time.perf_counter(), time.perf_counter(), 0, float("nan")
    while step < cfg.max_steps:
        model.train()
        loss_sum = torch.zeros((), device=device)
        for m in range(cfg.grad_accum):
            batch = train.batch(samples + (m * world + rank) * cfg.micro_batch, cfg.micro_batch).to(device)
            last_micro = m == cfg.grad_accum - 1
            sync: AbstractContextManager[None] = nullcontext()
            if isinstance(model, torch.nn.parallel.DistributedDataParallel) and not last_micro:
                sync = model.no_sync()  # all-reduce once per optimizer step, not per micro-step
            elif hasattr(model, "set_requires_gradient_sync"):  # FSDP2: reduce-scatter on the last micro-step only
                model.set_requires_gradient_sync(last_micro)
            with sync, autocast:
                logits = model(batch[:, :-1])
                loss = F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten()) / cfg.grad_accum
            loss.backward()
            loss_sum += loss.detach()
        if cfg.grad_clip > 0:
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        else:
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
        gnorm = gnorm.full_tensor() if hasattr(gnorm, "full_tensor") else gnorm
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        samples += global_batch
        step += 1
        tok_since += global_batch * cfg.seq_len
        if world > 1:
            dist.all_reduce(loss_sum)
            loss_sum /= world
        bar.update(1)

        if step % cfg.log_every == 0 or step == cfg.max_steps:
            if device.type == "cuda":
                torch.cuda.synchronize()
            now = time.perf_counter()
            tps = tok_since / (now - t_last)
            last_loss = loss_sum.item()
            row = {"step": step, "loss": round(last_loss, 6), "lr": lr, "grad_norm": round(float(gnorm), 4),
                   "tokens": samples * cfg.seq_len, "tokens_per_s": round(tps, 1),
                   "mfu": round(fpt * tps / (peak * world), 4) if peak else None}
            if cfg.eval_every and step % cfg.eval_every == 0 and len(val):
                row["val_loss"] = round(evaluate(model, val, cfg, device, autocast), 6)
            log.write(row)
            bar.set_postfix(loss=f"{last_loss:.3f}", tok_s=f"{tps:,.0f}")
            t_last, tok_since = time.perf_counter(), 0
        if (cfg.ckpt_every and step % cfg.ckpt_every == 0) or step == cfg.max_steps:
            ckpt.save(out, step, model, optimizer, scheduler, state_dict_extra(), cfg.keep_ckpts)
            t_last = time.perf_counter()  # checkpoint time is not training throughput
    bar.close()

    summary = {"steps": step, "final_loss": last_loss, "params": raw.num_params(),
               "flops_per_token": fpt, "tokens": samples * cfg.seq_len, "world_size": world,
               "wall_s": round(time.perf_counter() - t_start, 2), "device": str(device)}
    if rank == 0:
        import json
        rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x.strip()]
        rates = [r["tokens_per_s"] for r in rows[len(rows) // 5:]]  # skip warm-up steps
        mean_rate = round(sum(rates) / len(rates), 1) if rates else None
        summary["tokens_per_s"] = mean_rate
        summary["mfu"] = round(fpt * mean_rate / (peak * world), 4) if peak and mean_rate is not None else None
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        if cfg.plot:
            plot_loss(out / "metrics.jsonl", out / "loss.png")
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return summary


@torch.no_grad()
def evaluate(model, val: TokenWindows, cfg: TrainConfig, device, autocast) -> float:
    model.eval()
    losses = []
    for b in range(cfg.eval_batches):
        batch = val.batch(b * cfg.micro_batch, cfg.micro_batch, shuffle=False).to(device)
        with autocast:
            logits = model(batch[:, :-1])
        losses.append(F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten()).item())
    model.train()
    return sum(losses) / len(losses)
