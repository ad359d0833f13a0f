"""Run metrics: a jsonl log, MFU against known peak FLOPs, and the loss-curve plot."""
from __future__ import annotations

import json
from pathlib import Path

import torch

# Dense bf16 tensor-core peaks (FLOP/s) per device, from vendor spec sheets.
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12,
             "4090": 165e12, "3090": 71e12, "V100": 125e12}


def peak_flops(device: torch.device, configured: float) -> float | None:
    if configured > 0:
        return configured
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, value in PEAK_BF16.items():
            if key in name:
                return value
    return None  # CPU: no reliable peak; pass peak_flops to get an MFU


class MetricsLog:
    def __init__(self, path: Path, enabled: bool):
        self.path, self.enabled = path, enabled

    def truncate_after(self, step: int) -> None:
        """On resume, forget lines logged after the checkpoint we restart from."""
        if not self.enabled or not self.path.exists():
            return
        lines = [ln for ln in self.path.read_text().splitlines() if ln.strip()]
        kept = []
        for ln in lines:
            try:
                if json.loads(ln)["step"] <= step:
                    kept.append(ln)
            except (ValueError, KeyError):
                continue  # a half-written last line from a killed run
        self.path.write_text("".join(k + "\n" for k in kept))

    def write(self, row: dict) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")


def read_metrics(path: str | Path) -> list[dict]:
    rows = []
    for ln in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(ln))
        except ValueError:
            pass
    return rows


def plot_loss(metrics_path: Path, out_png: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = read_metrics(metrics_path)
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(6, 4))
    if train:
        ax.plot(*zip(*train), label="train loss", lw=1)
    if val:
        ax.plot(*zip(*val), "o-", label="val loss", ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return True
