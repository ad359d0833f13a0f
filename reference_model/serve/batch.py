"""A step's scheduled chunks as the runner's tensors, and which logits rows mean what.

Rows of the token matrix follow the schedule's order. Logits are asked for (a) the prompt
positions whose next-token log-probs an echo request still needs, and (b) the last position of
every sequence that draws a token in this step.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .runner import Prefill, StepInput
from .scheduler import Scheduled


@dataclass
class Step:
    inputs: StepInput
    prompt_rows: dict[int, tuple[list[int], list[int]]]  # schedule index -> (logits rows, prompt positions)
    sample_rows: dict[int, int]  # schedule index -> logits row of its last position


def build_step(scheduled: list[Scheduled], block_size: int, max_tokens: int) -> Step:
    tokens: list[int] = []
    positions: list[int] = []
    slots: list[int] = []
    decode_rows: list[int] = []
    decode_tables: list[list[int]] = []
    decode_lens: list[int] = []
    decode_ids: list[int] = []
    prefills: list[Prefill] = []
    logit_rows: list[int] = []
    prompt_rows: dict[int, tuple[list[int], list[int]]] = {}
    sample_rows: dict[int, int] = {}
    for k, item in enumerate(scheduled):
        seq, start, count = item.seq, item.start, item.count
        row = len(tokens)
        span = range(start, start + count)
        tokens += seq.all_ids[start:start + count]
        positions += span
        blocks = seq.blocks
        slots += [blocks[p // block_size] * block_size + p % block_size for p in span]
        if count == 1:
            decode_rows.append(row)
            decode_tables.append(blocks)
            decode_lens.append(start + 1)
            decode_ids.append(seq.seq_id)
        else:
            prefills.append(Prefill(row, count, start, torch.tensor(blocks, dtype=torch.long)))
        if seq.wants_prompt_logprobs():
            # position p's logits give the log-prob of prompt token p + 1 (the last prompt token's are the draw's)
            wanted = [p for p in span if seq.prompt_lp_upto <= p + 1 < len(seq.prompt_ids)]
            if wanted:
                prompt_rows[k] = (list(range(len(logit_rows), len(logit_rows) + len(wanted))), wanted)
                logit_rows += [row + p - start for p in wanted]
        if item.completes and len(seq.output_ids) < seq.params.max_tokens:
            sample_rows[k] = len(logit_rows)
            logit_rows.append(row + count - 1)
    assert len(tokens) <= max_tokens, (len(tokens), max_tokens)
    width = max((len(t) for t in decode_tables), default=0)
    long = torch.long
    inputs = StepInput(
        tokens=torch.tensor(tokens, dtype=long), positions=torch.tensor(positions, dtype=long),
        slots=torch.tensor(slots, dtype=long), decode_rows=torch.tensor(decode_rows, dtype=long),
        decode_tables=torch.tensor([t + [0] * (width - len(t)) for t in decode_tables], dtype=long).view(
            len(decode_tables), width),
        decode_lens=torch.tensor(decode_lens, dtype=long), prefills=prefills,
        logit_rows=torch.tensor(logit_rows, dtype=long), decode_ids=tuple(decode_ids))
    return Step(inputs, prompt_rows, sample_rows)
