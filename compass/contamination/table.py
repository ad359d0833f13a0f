"""A sorted key -> document table on disk, searched through a sparse in-memory fence.

``<name>.keys.u64`` holds the keys sorted, ``<name>.docs.u32`` each row's document, and
``<name>.fence.u64`` every ``BLOCK``-th key. A lookup finds each key's block in the fence, reads
that block and the next with ``pread`` and searches them: memory holds the fence (8 bytes per
``BLOCK`` rows) and two blocks, whatever the table's size, and no page of the table stays mapped
(memory-mapping it would keep every page a query touched resident).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from compass.errors import CompassError

BLOCK = 4096  # rows; a key is held by at most a few rows, far fewer than a block


def fence_of(keys: np.ndarray, first_row: int) -> np.ndarray:
    """The fence entries among ``keys``, which start at row ``first_row`` of the table."""
    start = (-first_row) % BLOCK
    return keys[start::BLOCK].copy()  # a copy: a view would keep the whole block of keys alive


class SortedTable:
    def __init__(self, root: Path, name: str, rows: int):
        self.name, self.rows = name, rows
        paths = [root / f"{name}.{part}" for part in ("keys.u64", "docs.u32", "fence.u64")]
        for path in paths:
            if not path.is_file():
                raise CompassError(f"{path}: missing from the index; rebuild it")
        sizes = [p.stat().st_size for p in paths]
        if sizes != [8 * rows, 4 * rows, 8 * -(-rows // BLOCK)]:
            raise CompassError(f"{root}: table {name} is damaged (sizes disagree with meta.json); rebuild it")
        self.fence = np.fromfile(paths[2], dtype=np.uint64)
        self._keys = os.open(paths[0], os.O_RDONLY)
        self._docs = os.open(paths[1], os.O_RDONLY)

    def close(self) -> None:
        os.close(self._keys)
        os.close(self._docs)

    def _read(self, fd: int, dtype, width: int, start: int, stop: int) -> np.ndarray:
        return np.frombuffer(os.pread(fd, (stop - start) * width, start * width), dtype=dtype)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each key, the rows [lo, hi) holding it (lo == hi: absent)."""
        lo = np.zeros(len(keys), dtype=np.int64)
        hi = np.zeros(len(keys), dtype=np.int64)
        if self.rows == 0 or len(keys) == 0:
            return lo, hi
        unique, inverse = np.unique(keys, return_inverse=True)
        # The last fence key strictly below a key: its first row is at or after that block's start,
        # and at or before the next block's start (whose key is >= it).
        blocks = np.maximum(np.searchsorted(self.fence, unique, side="left") - 1, 0)
        u_lo, u_hi = np.empty(len(unique), dtype=np.int64), np.empty(len(unique), dtype=np.int64)
        bounds = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1], True])
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            start = int(blocks[a]) * BLOCK
            window = self._read(self._keys, np.uint64, 8, start, min(self.rows, start + 2 * BLOCK))
            u_lo[a:b] = start + np.searchsorted(window, unique[a:b], side="left")
            u_hi[a:b] = start + np.searchsorted(window, unique[a:b], side="right")
        lo[:], hi[:] = u_lo[inverse], u_hi[inverse]
        return lo, hi

    def docs(self, lo: int, hi: int) -> list[int]:
        return self._read(self._docs, np.uint32, 4, lo, hi).tolist() if hi > lo else []

    def keys(self, lo: int, hi: int) -> np.ndarray:
        return self._read(self._keys, np.uint64, 8, lo, hi)
