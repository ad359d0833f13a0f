"""Tokenise documents and pack them into flat token shards (raw little-endian .bin files).

Each document is encoded as ``<|endoftext|> text`` and documents are concatenated without
padding; the trainer cuts fixed-length windows across document boundaries.  uint16 is used when
the vocabulary fits (halves disk and page-cache traffic), uint32 otherwise.
"""
from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .records import Doc, StageReport


@dataclass
class PackConfig:
    shard_tokens: int = 1 << 24   # tokens per shard file
    val_fraction: float = 0.01    # share of documents held out for validation loss
    shuffle: bool = True          # interleave sources before packing
    seed: int = 0
    batch_docs: int = 1024        # documents per encode_batch call


@dataclass
class Shard:
    path: str
    split: str
    n_tokens: int
    n_docs: int
    dtype: str
    sha256: str


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def _write(path: Path, tokens: np.ndarray) -> str:
    data = tokens.astype(tokens.dtype.newbyteorder("<")).tobytes()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()


def split_order(n_docs: int, cfg: PackConfig) -> dict[str, list[int]]:
    """Document positions per split, in packing order (the split of any document can be told from it)."""
    order = list(range(n_docs))
    if cfg.shuffle:
        random.Random(cfg.seed).shuffle(order)
    n_val = round(n_docs * cfg.val_fraction) if n_docs > 1 else 0
    return {"val": order[:n_val], "train": order[n_val:]}


def pack(docs: list[Doc], tokenizer, out_dir: Path, cfg: PackConfig) -> tuple[list[Shard], dict[str, int], StageReport]:
    """Returns shards, per-doc token counts and the stage report."""
    t0 = time.perf_counter()
    report = StageReport("pack", n_in=len(docs))
    dtype = token_dtype(tokenizer.get_vocab_size())
    splits = split_order(len(docs), cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    shards: list[Shard] = []
    doc_tokens: dict[str, int] = {}
    for split, idx in splits.items():
        buf: list[np.ndarray] = []
        n_buf, n_docs = 0, 0

        def flush(split: str = split) -> None:
            nonlocal buf, n_buf, n_docs
            if not buf:
                return
            arr = np.concatenate(buf).astype(dtype)
            path = out_dir / f"{split}_{sum(s.split == split for s in shards):05d}.bin"
            shards.append(Shard(path.name, split, int(arr.size), n_docs, dtype.name, _write(path, arr)))
            buf, n_buf, n_docs = [], 0, 0

        for i in range(0, len(idx), cfg.batch_docs):
            batch = [docs[j] for j in idx[i:i + cfg.batch_docs]]
            for doc, enc in zip(batch, tokenizer.encode_batch([d.text for d in batch])):
                ids = np.asarray(enc.ids, dtype=np.int64)
                doc_tokens[doc.id] = int(ids.size)
                buf.append(ids)
                n_buf += ids.size
                n_docs += 1
                if n_buf >= cfg.shard_tokens:
                    flush()
        flush()
        report.counters[f"{split}_docs"] = len(idx)
        report.counters[f"{split}_tokens"] = sum(s.n_tokens for s in shards if s.split == split)
    report.n_out = len(docs)
    report.seconds = time.perf_counter() - t0
    return shards, doc_tokens, report


def read_shard(path: str | Path, dtype: str) -> np.ndarray:
    return np.memmap(path, dtype=np.dtype(dtype).newbyteorder("<"), mode="r")
