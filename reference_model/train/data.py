"""Fixed-length training windows over packed shards, addressed by a global sample index.

Sample i of the run is a pure function of (seed, i): epoch e = i // N uses permutation
rng(seed + e) of the N windows.  Resuming therefore only needs the number of samples consumed,
and any world size sees the same global batches.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..data.pack import read_shard


class TokenWindows:
    def __init__(self, data_dir: str | Path, split: str, seq_len: int, seed: int = 0):
        manifest = json.loads((Path(data_dir) / "manifest.json").read_text())
        self.vocab_size = manifest["tokenizer"]["vocab_size"]
        self.tokenizer_path = manifest["tokenizer"]["path"]
        self.seq_len, self.seed = seq_len, seed
        self.shards = [read_shard(Path(data_dir) / "shards" / s["path"], s["dtype"])
                       for s in manifest["shards"] if s["split"] == split]
        # Windows of seq_len + 1 tokens (inputs and shifted targets) with stride seq_len.
        counts = [max((len(s) - 1) // seq_len, 0) for s in self.shards]
        self.offsets = np.cumsum([0] + counts)
        self.n_windows = int(self.offsets[-1])
        self._perm_epoch = -1  # the epoch whose window permutation _perm holds (none yet)
        self._perm: np.ndarray = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return self.n_windows

    def _window(self, w: int) -> np.ndarray:
        k = int(np.searchsorted(self.offsets, w, side="right") - 1)
        start = (w - int(self.offsets[k])) * self.seq_len
        return np.asarray(self.shards[k][start:start + self.seq_len + 1], dtype=np.int64)

    def window_of_sample(self, i: int) -> int:
        epoch, j = divmod(i, self.n_windows)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng(self.seed + epoch).permutation(self.n_windows)
            self._perm_epoch = epoch
        return int(self._perm[j])

    def batch(self, start: int, size: int, shuffle: bool = True) -> torch.Tensor:
        """Samples [start, start + size) as a (size, seq_len + 1) int64 tensor."""
        idx = [self.window_of_sample(i) if shuffle else i % self.n_windows for i in range(start, start + size)]
        return torch.from_numpy(np.stack([self._window(w) for w in idx]))
