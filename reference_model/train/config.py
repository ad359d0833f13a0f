"""Pretraining config: one flat dataclass, filled from a JSON/TOML file and CLI flags.

Invalid values raise ``ConfigError`` naming the key; the CLI turns that into a one-line exit.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..configio import ConfigError, apply_overrides, build, check_training_keys, load_file
from ..model import CONFIGS, ModelConfig, named_config

DEFAULT_WARMUP = 10  # steps, capped at max_steps when warmup_steps is left at -1


@dataclass
class TrainConfig:
    data: str = ""                  # output dir of `refmodel data` (holds manifest.json + shards/)
    out: str = "outputs/pretrain"   # run dir: checkpoints/, metrics.jsonl, loss.png
    model: str = "tiny"             # named size in reference_model.model.CONFIGS
    model_overrides: dict = field(default_factory=dict)  # e.g. {"n_layers": 3}
    seq_len: int = 128
    micro_batch: int = 8            # sequences per process per micro-step
    grad_accum: int = 1             # micro-steps per optimizer step
    max_steps: int = 100
    lr: float = 1e-3
    min_lr_ratio: float = 0.1       # cosine decays to lr * min_lr_ratio
    warmup_steps: int = -1          # -1: min(10, max_steps), so short runs need no warm-up flag
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0          # 0 disables clipping
    seed: int = 0
    log_every: int = 1
    eval_every: int = 0             # validation loss every N steps (0: never)
    eval_batches: int = 4
    ckpt_every: int = 50            # 0: only at the end
    keep_ckpts: int = 2
    resume: bool = True             # continue from the newest checkpoint in `out` if there is one
    device: str = "auto"            # auto | cpu | cuda
    precision: str = "auto"         # auto (bf16 autocast on GPU, fp32 on CPU) | fp32 | bf16
    fsdp: bool = False              # shard with FSDP2 under torchrun (gloo CPU too); DDP otherwise
    threads: int = 0                # torch.set_num_threads on CPU (0: torch default)
    peak_flops: float = 0.0         # per device, for MFU; 0: known GPUs only
    progress: bool = True           # tqdm bar on rank 0
    plot: bool = True               # write loss.png at the end (needs matplotlib)

    def __post_init__(self):
        if self.warmup_steps == -1:
            self.warmup_steps = min(DEFAULT_WARMUP, self.max_steps)
        check_training_keys(self, ["seq_len", "micro_batch", "grad_accum", "max_steps", "log_every", "eval_batches",
                                   "keep_ckpts"],
                            ["warmup_steps", "eval_every", "ckpt_every", "weight_decay", "grad_clip", "threads",
                             "peak_flops"])
        if self.model not in CONFIGS:
            raise ConfigError(f"config key 'model': unknown {self.model!r} (known: {', '.join(CONFIGS)})")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"config key 'precision': must be auto, fp32 or bf16, got {self.precision!r}")
        if not self.data:
            raise ConfigError("config key 'data': required (the output dir of `refmodel data`)")
        self.model_config()  # a shape the model cannot run fails here, not at step 0

    def model_config(self, vocab_size: int = 2048) -> ModelConfig:
        """The model this run trains (``vocab_size`` comes from the tokenizer at run time)."""
        try:
            mcfg = named_config(self.model, **{**self.model_overrides, "vocab_size": vocab_size})
        except (TypeError, ValueError) as e:
            raise ConfigError(f"config key 'model_overrides': {e}") from None
        if mcfg.head_dim % 2:  # rotate-half RoPE pairs the two halves of every head
            raise ConfigError(f"config key 'model_overrides': head_dim = hidden_size / n_heads = {mcfg.head_dim} "
                              "must be even for RoPE")
        if self.seq_len > mcfg.max_seq_len:
            raise ConfigError(f"config key 'seq_len': {self.seq_len} exceeds the {mcfg.max_seq_len} positions of model "
                              f"{self.model!r} (raise model_overrides.max_seq_len to train longer sequences)")
        return mcfg


def load_train_config(path: str | None, overrides: list[str]) -> TrainConfig:
    base = load_file(path) if path else {}
    return build(TrainConfig, apply_overrides(base, overrides))


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]
