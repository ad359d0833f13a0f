"""Log-likelihood scoring for the transformers backend: as few tokens through the model as possible.

Three kinds of sharing, all exact (every score equals a plain forward over context + continuation):

1. **Prefix groups.** Contexts that share a long token prefix (a subject's few-shot examples) run
   that prefix once; its KV cache is reused by every row of the group. `prefix_groups` picks the
   grouping that saves the most tokens (sharing 40 header tokens across four subjects loses to
   sharing each subject's 250-token few-shot block within it).
2. **One row per question.** A context's own tokens (the suffix after the shared prefix) run once
   for all of its continuations: one-token continuations are read from the suffix's last logits,
   and a multi-token continuation adds a *branch* to the same row whose tokens attend to the
   prefix, the suffix and their own branch only (a tree mask; positions continue from the suffix).
3. **Logits only where needed.** Rows are left-padded so every row's scored positions are its last
   columns; the model computes logits for those columns only, and log-softmax runs on them only.

Batches are length-sorted and capped by rows (``batch_size``) and padded tokens
(``max_batch_tokens``); on a CUDA out-of-memory error the batch is split and the smaller row cap
is kept (the probe for the largest batch that fits).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import torch

from compass.models.kv_prefix import expand_cache, prefix_cache, prefix_groups, with_cache
from compass.models.memory import halving_on_oom

TREE_MASK_ATTENTION = ("sdpa", "eager")  # attention implementations that honour a custom 4D mask


@dataclass
class Row:
    """One forward row: a context suffix plus continuation branches, and what to read from it."""
    tokens: list[int]
    segments: list[int]  # 0: the suffix; k >= 1: branch k
    offsets: list[int]  # position of each token after the shared prefix
    # (score index, row columns whose logits predict the tokens, the tokens), columns from the row start
    targets: list[tuple[int, list[int], list[int]]] = field(default_factory=list)

    @property
    def scored_tail(self) -> int:
        """How many of the row's last columns hold every scored position."""
        return len(self.tokens) - min(c for _, cols, _ in self.targets for c in cols)


def build_rows(suffix: list[int], continuations: list[list[int]], first_index: int, tree: bool) -> list[Row]:
    """Rows scoring every continuation after ``suffix``; score k lands at ``first_index + k``.

    With ``tree`` all branches share one row; without it (an attention implementation that would
    ignore a custom mask) each multi-token continuation gets a plain row of its own.
    """
    last = len(suffix) - 1
    base = lambda: Row(list(suffix), [0] * len(suffix), list(range(len(suffix))))  # noqa: E731
    rows = [base()]
    branches: dict[tuple[int, ...], tuple[Row, int]] = {}  # identical branches are computed once
    for k, cont in enumerate(continuations):
        branch = tuple(cont[:-1])
        if not branch:
            rows[0].targets.append((first_index + k, [last], cont))
            continue
        if branch not in branches:
            row = rows[-1] if tree or not any(s for s in rows[-1].segments) else base()
            if row is not rows[-1]:
                rows.append(row)
            segment = max(row.segments) + 1
            branches[branch] = (row, len(row.tokens))
            row.tokens += branch
            row.segments += [segment] * len(branch)
            row.offsets += range(len(suffix), len(suffix) + len(branch))
        row, start = branches[branch]
        row.targets.append((first_index + k, [last, *range(start, start + len(branch))], cont))
    return [row for row in rows if row.targets]


class Scorer:
    """Runs planned rows through a causal LM and sums each continuation's log-probabilities."""

    def __init__(self, model, pad_id: int, batch_size: int, max_batch_tokens: int | None):
        self.model, self.pad_id = model, pad_id
        self.row_cap, self.max_batch_tokens = batch_size, max_batch_tokens
        self.device = next(model.parameters()).device
        self.tree = getattr(model.config, "_attn_implementation", None) in TREE_MASK_ATTENTION
        self.keep_logits = "logits_to_keep" in inspect.signature(model.forward).parameters

    def score(self, contexts: list[list[int]], continuations: list[list[list[int]]]) -> list[list[float]]:
        first = [0]
        for conts in continuations:
            first.append(first[-1] + len(conts))
        values = torch.zeros(first[-1], dtype=torch.float64)
        for members, prefix_len in prefix_groups(contexts):
            past = prefix_cache(self.model, contexts[members[0]][:prefix_len]) if prefix_len else None
            prefix_len = prefix_len if past is not None else 0
            rows = [row for r in members
                    for row in build_rows(contexts[r][prefix_len:], continuations[r], first[r], self.tree)]
            rows.sort(key=lambda row: -len(row.tokens))
            for batch in self._batches(rows, prefix_len):
                self._run(batch, past, prefix_len, values)
        flat = values.tolist()
        return [flat[first[r]:first[r + 1]] for r in range(len(contexts))]

    def _batches(self, rows: list[Row], prefix_len: int):
        """Length-sorted rows in batches within the row cap and the padded-token budget."""
        start = 0
        while start < len(rows):
            width = prefix_len + len(rows[start].tokens)  # the longest row of the batch comes first
            fit = self.row_cap
            if self.max_batch_tokens:
                fit = max(1, min(fit, self.max_batch_tokens // width))
            yield rows[start:start + fit]
            start += fit

    def _run(self, batch: list[Row], past, prefix_len: int, values: torch.Tensor) -> None:
        def shrink(n: int) -> None:
            self.row_cap = n

        halving_on_oom(batch, lambda rows: self._forward(rows, past, prefix_len, values), shrink, "scoring")

    def _forward(self, batch: list[Row], past, prefix_len: int, values: torch.Tensor) -> None:
        width = max(len(row.tokens) for row in batch)
        n = len(batch)
        input_ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        positions = torch.zeros((n, width), dtype=torch.long)
        segments = torch.full((n, width), -1, dtype=torch.long)
        for b, row in enumerate(batch):  # left padding: every row's scored columns are at its end
            input_ids[b, width - len(row.tokens):] = torch.tensor(row.tokens)
            positions[b, width - len(row.tokens):] = torch.tensor(row.offsets) + prefix_len
            segments[b, width - len(row.tokens):] = torch.tensor(row.segments)
        real = segments >= 0
        if self.tree:
            mask = _tree_mask(segments, prefix_len)
            if self.model.config._attn_implementation == "eager":
                mask = torch.zeros(mask.shape, dtype=self.model.dtype).masked_fill(~mask, torch.finfo(self.model.dtype).min)
        else:
            mask = torch.cat([torch.ones((n, prefix_len), dtype=torch.long), real.long()], dim=1)
        tail = max(row.scored_tail for row in batch)
        kwargs: dict[str, Any] = {"logits_to_keep": tail} if self.keep_logits else {}
        if past is not None:
            kwargs.update(with_cache(self.model, expand_cache(past, n)))
        logits = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                            position_ids=positions.to(self.device), **kwargs).logits
        offset = width - logits.shape[1]  # column of logits[:, 0] in the padded row
        rows_i, cols_i, tokens, owners = [], [], [], []
        for b, row in enumerate(batch):
            pad = width - len(row.tokens)
            for index, cols, conts in row.targets:
                rows_i += [b] * len(cols)
                cols_i += [pad + c - offset for c in cols]
                tokens += conts
                owners += [index] * len(cols)
        picked = logits[torch.tensor(rows_i), torch.tensor(cols_i)].float().log_softmax(-1)
        logp = picked.gather(-1, torch.tensor(tokens, device=picked.device)[:, None])[:, 0]
        values.index_add_(0, torch.tensor(owners), logp.double().cpu())


def _tree_mask(segments: torch.Tensor, prefix_len: int) -> torch.Tensor:
    """(rows, 1, width, prefix + width) bool: True where a query may attend a key.

    Every real token sees the whole prefix, earlier suffix tokens, and earlier tokens of its own
    branch; padding sees only itself (a row of all False would make attention NaN).
    """
    n, width = segments.shape
    real = segments >= 0
    earlier = torch.ones((width, width), dtype=torch.bool).tril()
    same_or_suffix = (segments[:, None, :] == 0) | (segments[:, None, :] == segments[:, :, None])
    tree = earlier & same_or_suffix & real[:, None, :] & real[:, :, None]
    tree |= torch.eye(width, dtype=torch.bool)
    prefix = real[:, :, None].expand(n, width, prefix_len)
    return torch.cat([prefix, tree], dim=2)[:, None]
