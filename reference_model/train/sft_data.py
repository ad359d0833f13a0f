"""SFT data: OpenAI ``messages`` jsonl -> token ids with assistant-only targets -> packed rows.

Each conversation becomes inputs ``ids[:-1]``, targets ``ids[1:]`` (-100 where the target is not
an assistant token) and positions 0.. . Rows of ``seq_len`` hold whole conversations: packed
(next-fit in a seeded order per epoch, each with its own segment number) or one per row; the
rest of a row is padding (segment -1, no target). Row *i* of a run is a pure function of
``(seed, i)``, so a resumed run only needs the number of rows consumed.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..configio import ConfigError
from .chat import ChatTokenizer, check_messages

logger = logging.getLogger(__name__)
IGNORE = -100


@dataclass
class Example:
    inputs: list[int]
    targets: list[int]  # IGNORE where the loss does not look


@dataclass
class Batch:
    tokens: torch.Tensor     # (b, t)
    targets: torch.Tensor    # (b, t), IGNORE outside assistant turns and padding
    positions: torch.Tensor  # (b, t)
    segments: torch.Tensor   # (b, t), -1 on padding

    def to(self, device) -> Batch:
        return Batch(*(getattr(self, k).to(device) for k in ("tokens", "targets", "positions", "segments")))


def resolve_files(data: str, val_data: str, key: str = "data") -> tuple[Path, Path | None]:
    """The training file and the held-out file (``val_data``, else heldout.jsonl beside it)."""
    path = Path(data)
    train = path / "train.jsonl" if path.is_dir() else path
    if not train.is_file():
        raise ConfigError(f"config key '{key}': {data} is not a jsonl file (or a dir holding train.jsonl)")
    if val_data:
        if not Path(val_data).is_file():
            raise ConfigError(f"config key 'val_data': {val_data} is not a file")
        return train, Path(val_data)
    held = train.with_name("heldout.jsonl")
    return train, held if held.is_file() and held != train else None


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise ConfigError(f"{path}:{lineno}: expected a JSON object")
            rows.append((lineno, row))
    if not rows:
        raise ConfigError(f"{path}: no records")
    return rows


def load_examples(path: Path, chat: ChatTokenizer, seq_len: int) -> list[Example]:
    examples, too_long = [], 0
    for lineno, row in read_jsonl(path):
        try:
            messages = check_messages(row.get("messages"), f"{path}:{lineno}")
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if not any(m["role"] == "assistant" for m in messages):
            raise ConfigError(f"{path}:{lineno}: no assistant turn to learn from")
        enc = chat.encode_conversation(messages)
        if len(enc.ids) - 1 > seq_len:
            too_long += 1
            continue
        targets = [t if m else IGNORE for t, m in zip(enc.ids[1:], enc.loss_mask[1:])]
        examples.append(Example(enc.ids[:-1], targets))
    if too_long:
        logger.warning("%s: %d conversation(s) longer than seq_len %d tokens left out", path, too_long, seq_len)
    if not examples:
        raise ConfigError(f"config key 'seq_len': no conversation of {path} fits in {seq_len} tokens")
    return examples


class PackedRows:
    """Rows of ``seq_len`` tokens, epoch by epoch; row i of the run is ``row(i)``."""

    def __init__(self, examples: list[Example], seq_len: int, packing: bool, seed: int, pad_id: int, shuffle: bool = True):
        self.examples, self.seq_len, self.packing, self.seed, self.pad_id = examples, seq_len, packing, seed, pad_id
        self.shuffle = shuffle
        self._epochs: list[list[list[int]]] = []  # per epoch: rows as lists of example indices
        self._starts = [0]

    def _plan(self, epoch: int) -> list[list[int]]:
        order = np.random.default_rng(self.seed + epoch).permutation(len(self.examples)) if self.shuffle \
            else np.arange(len(self.examples))
        rows: list[list[int]] = []
        used = self.seq_len
        for i in order.tolist():
            n = len(self.examples[i].inputs)
            if not self.packing or used + n > self.seq_len:
                rows.append([])
                used = 0
            rows[-1].append(i)
            used += n
        return rows

    def _locate(self, i: int) -> list[int]:
        while i >= self._starts[-1]:
            self._epochs.append(self._plan(len(self._epochs)))
            self._starts.append(self._starts[-1] + len(self._epochs[-1]))
        epoch = int(np.searchsorted(self._starts, i, side="right") - 1)
        return self._epochs[epoch][i - self._starts[epoch]]

    def rows_per_epoch(self) -> int:
        self._locate(0)
        return len(self._epochs[0])

    def batch(self, start: int, size: int) -> Batch:
        t = self.seq_len
        tokens = torch.full((size, t), self.pad_id, dtype=torch.long)
        targets = torch.full((size, t), IGNORE, dtype=torch.long)
        positions = torch.zeros((size, t), dtype=torch.long)
        segments = torch.full((size, t), -1, dtype=torch.long)
        for r in range(size):
            at = 0
            for seg, ex_index in enumerate(self._locate(start + r)):
                ex = self.examples[ex_index]
                n = len(ex.inputs)
                tokens[r, at:at + n] = torch.tensor(ex.inputs)
                targets[r, at:at + n] = torch.tensor(ex.targets)
                positions[r, at:at + n] = torch.arange(n)
                segments[r, at:at + n] = seg
                at += n
        return Batch(tokens, targets, positions, segments)
