"""``dpo.png``: reward accuracy and margin of a DPO run, train and held out, next to ``loss.png``."""
from __future__ import annotations

from pathlib import Path

from .metrics import read_metrics


def plot_rewards(metrics_path: Path, out_dir: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = read_metrics(metrics_path)
    fig, (acc_ax, margin_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, keys, label in ((acc_ax, ("reward_accuracy", "val_reward_accuracy", "val_pref_accuracy"), "accuracy"),
                            (margin_ax, ("reward_margin", "val_reward_margin"), "reward margin (nats x beta)")):
        for key in keys:
            points = [(r["step"], r[key]) for r in rows if key in r]
            if points:
                ax.plot(*zip(*points), "o-" if key.startswith("val") else "-", label=key, ms=3, lw=1)
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "dpo.png", dpi=100)
    plt.close(fig)
    return True
