"""``refmodel sft``: supervised fine-tuning on chat conversations, loss on assistant tokens only.

Conversations (OpenAI ``messages`` jsonl) are rendered with the tokenizer's chat template
(ChatML), packed into rows with attention kept inside each conversation (``packed.py``), and
trained with cross-entropy averaged over the assistant tokens of the whole optimizer step (so a
step's loss does not depend on how its tokens fall into micro-batches). Held-out loss on
``heldout.jsonl`` (or ``val_data``) is logged as ``val_loss``.
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from ..configio import ConfigError
from ..model import Transformer
from ..tokenizer import PAD
from . import tune_loop
from .chat import ChatTokenizer
from .load import load_model
from .packed import packed_logits
from .sft_data import IGNORE, PackedRows, load_examples, resolve_files
from .tune_config import SFTConfig

logger = logging.getLogger(__name__)


class SFTTask:
    name = "sft"

    def __init__(self, cfg: SFTConfig, train: PackedRows, val: PackedRows | None, device: torch.device):
        self.cfg, self.train, self.val, self.device = cfg, train, val, device
        self.samples_per_step = cfg.micro_batch * cfg.grad_accum

    def _loss_sum(self, model: Transformer, rows: PackedRows, start: int) -> tuple[torch.Tensor, int]:
        batch = rows.batch(start, self.cfg.micro_batch).to(self.device)
        logits = packed_logits(model, batch.tokens, batch.positions, batch.segments)
        loss = F.cross_entropy(logits.float().flatten(0, 1), batch.targets.flatten(), ignore_index=IGNORE,
                               reduction="sum")
        return loss, int((batch.targets != IGNORE).sum())

    def train_step(self, model: Transformer, start: int) -> dict:
        mb = self.cfg.micro_batch
        # The loss is a mean over the step's assistant tokens: count them before any backward.
        starts = [start + m * mb for m in range(self.cfg.grad_accum)]
        n_targets = sum(int((self.train.batch(s, mb).targets != IGNORE).sum()) for s in starts)
        total, tokens = 0.0, 0
        for s in starts:
            loss, _ = self._loss_sum(model, self.train, s)
            (loss / max(n_targets, 1)).backward()
            total += loss.item()
            tokens += mb * self.cfg.seq_len
        return {"loss": total / max(n_targets, 1), "loss_tokens": n_targets, "tokens": tokens}

    @torch.no_grad()
    def evaluate(self, model: Transformer) -> dict:
        if self.val is None:
            return {}
        model.eval()
        total, n = 0.0, 0
        rows = min(self.cfg.eval_batches * self.cfg.micro_batch, self.val.rows_per_epoch())
        for s in range(0, rows, self.cfg.micro_batch):
            loss, count = self._loss_sum(model, self.val, s)
            total, n = total + loss.item(), n + count
        model.train()
        return {"val_loss": total / max(n, 1)}


def sft(cfg: SFTConfig) -> dict:
    device = tune_loop.device_of(cfg)
    torch.manual_seed(cfg.seed)
    loaded = load_model(cfg.init, "init")
    model = loaded.model.to(device)
    if cfg.seq_len > model.cfg.max_seq_len:
        logger.warning("seq_len %d exceeds the model's max_seq_len %d (RoPE extrapolates)", cfg.seq_len,
                       model.cfg.max_seq_len)
    chat = ChatTokenizer(loaded.tokenizer_dir)
    pad_id = chat.tok.token_to_id(PAD)
    if pad_id is None:
        raise ConfigError(f"config key 'init': tokenizer {loaded.tokenizer_dir} has no {PAD} token")
    train_file, val_file = resolve_files(cfg.data, cfg.val_data)
    train = PackedRows(load_examples(train_file, chat, cfg.seq_len), cfg.seq_len, cfg.packing, cfg.seed, pad_id)
    val = PackedRows(load_examples(val_file, chat, cfg.seq_len), cfg.seq_len, cfg.packing, cfg.seed, pad_id,
                     shuffle=False) if val_file else None
    logger.info("sft: %d conversations in %d rows per epoch (%s), init %s", len(train.examples),
                train.rows_per_epoch(), "packed" if cfg.packing else "padded", loaded.source)
    return tune_loop.run(SFTTask(cfg, train, val, device), model, cfg, loaded.tokenizer_dir)
