"""Fine-tuning configs (``refmodel sft``, ``refmodel prefer``): flat dataclasses like pretraining's.

Keys come from a JSON/TOML file, ``--set key=value`` and ``--key value`` flags (flags win); a bad
value raises ``ConfigError`` naming the key.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from ..configio import ConfigError, apply_overrides, build, check_training_keys, load_file


@dataclass
class TuneConfig:
    init: str = ""                  # weights to start from: a checkpoint, a run dir or a `refmodel export` dir
    data: str = ""                  # training jsonl (or a dir holding train.jsonl)
    val_data: str = ""              # held-out jsonl ("" : heldout.jsonl beside the training file, if any)
    out: str = "outputs/tune"
    seq_len: int = 256              # tokens per packed row (SFT) / longest prompt + completion kept (DPO)
    micro_batch: int = 8            # rows (SFT) or pairs (DPO) per micro-step
    grad_accum: int = 1
    max_steps: int = 100
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 10
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 1
    eval_every: int = 0             # held-out metrics every N steps (0: only at the end)
    eval_batches: int = 4
    ckpt_every: int = 50            # 0: only at the end
    keep_ckpts: int = 2
    resume: bool = True
    device: str = "auto"            # auto | cpu | cuda
    threads: int = 0
    progress: bool = True
    plot: bool = True

    def __post_init__(self):
        check_training_keys(self, ["seq_len", "micro_batch", "grad_accum", "max_steps", "log_every", "eval_batches",
                                   "keep_ckpts"],
                            ["warmup_steps", "eval_every", "ckpt_every", "weight_decay", "grad_clip", "threads"])
        for key in ("init", "data"):
            if not getattr(self, key):
                raise ConfigError(f"config key '{key}': required")


@dataclass
class SFTConfig(TuneConfig):
    out: str = "outputs/sft"
    lr: float = 3e-4
    packing: bool = True            # several conversations per row, attention kept within each; False: one, padded


@dataclass
class DPOConfig(TuneConfig):
    out: str = "outputs/dpo"
    lr: float = 5e-5
    ref: str = ""                   # the frozen reference policy ("": the init weights)
    beta: float = 0.1

    def __post_init__(self):
        super().__post_init__()
        if not self.beta > 0:
            raise ConfigError(f"config key 'beta': must be > 0, got {self.beta}")


def load_tune_config(cls: type[TuneConfig], path: str | None, overrides: list[str]) -> TuneConfig:
    base = load_file(path) if path else {}
    return build(cls, apply_overrides(base, overrides))


def tune_field_names(cls: type[TuneConfig]) -> list[str]:
    return [f.name for f in fields(cls)]
