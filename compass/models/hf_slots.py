"""The KV cache of continuous batching: a fixed number of slots, each holding one row in flight.

Layout of every slot, at the cache's common length ``T``::

    [0, P)          the shared prefix (few-shot examples), written once per slot; P = 0 where
                    decode steps read the prefix from one copy instead (hf_attention.py)
    [P, T - used)   holes: what earlier occupants of the slot left, masked out
    [T - used, T)   this row's own tokens (prompt suffix, then generated), contiguous

Own tokens end at ``T`` in every slot, so one decode step appends one column for all rows in
place. A row joining mid-way is written into a freed slot so that its columns end at ``T``; its
positions come from its own count, never from the column, and its mask hides everything but the
prefix and its own columns, so what it computes does not depend on the other rows.
"""
from __future__ import annotations

import torch
from transformers import DynamicCache, DynamicLayer

SLACK = 32  # hole columns tolerated above the longest row before they are squeezed out


class SlotLayer(DynamicLayer):
    """One layer's keys and values, ``[slots, heads, capacity, dim]``, ``length`` columns in use."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int):
        super().__init__()
        self.lazy_initialization(keys, values)
        self._keys, self._values = keys, values
        self._set_length(length)

    def _set_length(self, n: int) -> None:
        self.length = n
        self.keys, self.values = self._keys[:, :, :n], self._values[:, :, :n]

    def _reserve(self, end: int) -> None:
        if end > self._keys.shape[2]:  # more than reserved: grow once, by doubling
            extra = max(end, 2 * self._keys.shape[2]) - self._keys.shape[2]
            self._keys = torch.cat([self._keys, self._keys.new_zeros(self._keys.shape[:2] + (extra,) + self._keys.shape[3:])], 2)
            self._values = torch.cat([self._values, self._values.new_zeros(
                self._values.shape[:2] + (extra,) + self._values.shape[3:])], 2)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        end = self.length + key_states.shape[-2]
        self._reserve(end)
        self._keys[:, :, self.length:end], self._values[:, :, self.length:end] = key_states, value_states
        self._set_length(end)
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._keys, self._values = self._keys[indices], self._values[indices]
        self._set_length(self.length)

    def shift_region(self, start: int, width: int, to: int) -> None:
        """Move columns ``[start, start + width)`` of every slot to ``[to, to + width)``."""
        self._reserve(to + width)
        for buf in (self._keys, self._values):
            buf[:, :, to:to + width] = buf[:, :, start:start + width].clone()  # ranges may overlap

    def place(self, slot: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Write one row's own columns (``[heads, n, dim]``) so that they end at ``length``."""
        n = keys.shape[-2]
        self._keys[slot, :, self.length - n:self.length] = keys
        self._values[slot, :, self.length - n:self.length] = values


class SlotCache:
    """All layers' slots, the shared prefix length and the common length; hands the model a
    ``DynamicCache`` made of ``SlotLayer``s."""

    def __init__(self, prefill, prefix: int, slots: int, capacity: int):
        """``prefill``: a cache whose layers hold ``[rows, heads, prefix + width, dim]`` (the first
        joiners' prefill); its first ``prefix`` columns are the shared prefix, copied to every slot."""
        layers: list[SlotLayer] = []
        for layer in prefill.layers:
            k, v = layer.keys, layer.values
            bk = k.new_zeros((slots, k.shape[1], max(capacity, prefix + 1), k.shape[3]))
            bv = v.new_zeros((slots, v.shape[1], bk.shape[2], v.shape[3]))
            bk[:, :, :prefix], bv[:, :, :prefix] = k[:1, :, :prefix], v[:1, :, :prefix]
            layers.append(SlotLayer(bk, bv, prefix))
        self.layers = layers
        self.cache = DynamicCache()
        self.cache.layers = list(layers)
        self.prefix = prefix

    @property
    def length(self) -> int:
        return self.layers[0].length

    @property
    def region(self) -> int:
        """Columns after the prefix: the widest row's own columns plus holes."""
        return self.length - self.prefix

    def fit(self, needed: int) -> None:
        """Make the region exactly ``needed`` wide when it is narrower (room for a joining row's
        prompt) or more than ``SLACK`` wider (holes every row would attend over). Rows' own
        columns end at the common length, so this moves the region's last ``needed`` columns."""
        region = self.region
        if region < needed or region > needed + SLACK:
            keep, end = min(region, needed), self.length
            for layer in self.layers:
                layer.shift_region(end - keep, keep, self.prefix + needed - keep)
                layer._set_length(self.prefix + needed)

    def place(self, slot: int, prefill, row: int, own: int) -> None:
        """Copy the last ``own`` columns of row ``row`` of ``prefill`` into ``slot``."""
        for layer, source in zip(self.layers, prefill.layers):
            width = source.keys.shape[2]
            layer.place(slot, source.keys[row, :, width - own:], source.values[row, :, width - own:])

    def take(self, slot: int, own: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A copy of the last ``own`` columns of ``slot`` in every layer (a row set aside)."""
        end = self.length
        return [(layer._keys[slot, :, end - own:end].clone(), layer._values[slot, :, end - own:end].clone())
                for layer in self.layers]

    def restore(self, slot: int, columns: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Write what ``take`` copied into ``slot``, ending at the common length (after ``fit``)."""
        for layer, (keys, values) in zip(self.layers, columns):
            layer.place(slot, keys, values)

    def select(self, keep: list[int]) -> None:
        """Keep only these slots, in this order (finished rows leave once nothing waits)."""
        index = torch.tensor(keep, device=self.layers[0]._keys.device)
        for layer in self.layers:
            layer.batch_select_indices(index)

    def mask(self, used: torch.Tensor) -> torch.Tensor:
        """Attention mask for one decode step: the prefix, each row's ``used`` own columns and the
        column the step writes."""
        cols = torch.arange(self.length + 1, device=used.device)
        return ((cols < self.prefix) | (cols >= (self.length - used)[:, None])).long()
