"""Pretraining throughput (tokens/s) through the real training loop; MFU on GPU.

    python bench/pretrain_tokens_per_s.py [--model demo-3m] [--seq-len 256] [--micro-batch 16] [--steps 30]
    torchrun --nproc_per_node 8 bench/pretrain_tokens_per_s.py --model large-350m --seq-len 1024

Trains on random tokens (throughput does not depend on the text) and reports the mean tokens/s
of the steps after warm-up, FLOPs/token = 6 * N_matmul + 12 * layers * hidden * seq_len, and MFU
where a peak is known (GPU) or given with --peak-flops.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_model.configio import build
from reference_model.train.config import TrainConfig
from reference_model.train.pretrain import pretrain


def fake_corpus(root: Path, vocab: int, n_tokens: int) -> Path:
    (root / "shards").mkdir(parents=True, exist_ok=True)
    tokens = np.random.default_rng(0).integers(0, vocab, n_tokens, dtype=np.uint16)
    tokens.tofile(root / "shards" / "train_00000.bin")
    manifest = {"tokenizer": {"vocab_size": vocab, "path": ""},
                "shards": [{"path": "train_00000.bin", "split": "train", "n_tokens": n_tokens, "dtype": "uint16"}]}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="demo-3m")
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--micro-batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--fsdp", action="store_true")
    ap.add_argument("--peak-flops", type=float, default=0.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        data = fake_corpus(Path(tmp) / "data", args.vocab, args.seq_len * args.micro_batch * world * (args.steps + 1) + 1)
        cfg = build(TrainConfig, {"data": str(data), "out": str(Path(tmp) / "run"), "model": args.model,
                                  "seq_len": args.seq_len, "micro_batch": args.micro_batch, "max_steps": args.steps,
                                  "warmup_steps": 1, "ckpt_every": 0, "progress": False, "plot": False,
                                  "threads": args.threads, "fsdp": args.fsdp, "peak_flops": args.peak_flops,
                                  "resume": False})
        summary = pretrain(cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"model": args.model, "params_M": round(summary["params"] / 1e6, 2),
                          "seq_len": args.seq_len, "global_batch": args.micro_batch * world,
                          "tokens_per_s": summary["tokens_per_s"], "mfu": summary["mfu"],
                          "flops_per_token": summary["flops_per_token"], "device": summary["device"],
                          "world_size": world, "machine": platform.processor() or platform.machine(),
                          "cpu_count": os.cpu_count()}, indent=2))


if __name__ == "__main__":
    main()
