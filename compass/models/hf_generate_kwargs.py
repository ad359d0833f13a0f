"""Generation through transformers' own ``generate``, for user-chosen ``generation_kwargs``
(options compass's decoder does not implement): fixed batches, finished rows padded."""
from __future__ import annotations

from typing import cast

import torch
from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from compass.models.base import Completion, cut_at_stop
from compass.models.hf_generate import SeededSampler


def generate_with_hf(model, tokenizer, prompts: list[list[int]], max_new: int, stop: tuple[str, ...],
                     sampler: SeededSampler | None, generation_kwargs: dict) -> list[Completion]:
    device = model.device
    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    input_ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for b, p in enumerate(prompts):  # left padding: every row's next token is at the same column
        input_ids[b, width - len(p):] = torch.tensor(p)
        mask[b, width - len(p):] = 1
    criteria = StoppingCriteriaList([StopStrings(tokenizer, width, stop)]) if stop else None
    # Sampling happens in our own processor (per-row generators); generate's greedy step then
    # picks the one token it left, so do_sample stays False either way.
    processors = LogitsProcessorList([sampler]) if sampler is not None else None
    generated = model.generate(
        input_ids=input_ids.to(device), attention_mask=mask.to(device), max_new_tokens=max_new,
        do_sample=False, pad_token_id=pad, stopping_criteria=criteria, logits_processor=processors,
        **{"temperature": None, "top_p": None, "top_k": None, **generation_kwargs},
    )
    new = generated[:, width:].tolist()
    texts = tokenizer.batch_decode(new, skip_special_tokens=True)
    eos, pad_id = set(_ids(model.generation_config.eos_token_id)), pad
    completions = []
    for ids, text in zip(new, texts):
        while ids and ids[-1] == pad_id and pad_id not in eos:  # right padding of rows that ended early
            ids = ids[:-1]
        cut = cut_at_stop(text, stop)
        reason = "stop" if cut != text else "eos" if ids and ids[-1] in eos else "length" if len(ids) >= max_new else "eos"
        completions.append(Completion(cut, reason, len(ids)))
    return completions


def _ids(value) -> list[int]:
    return [value] if isinstance(value, int) else list(value or [])



class StopStrings(StoppingCriteria):
    """Per-row stop: a row is done once its new text contains a stop string."""

    def __init__(self, tokenizer, prompt_width: int, stop: tuple[str, ...]):
        self.tokenizer, self.prompt_width, self.stop = tokenizer, prompt_width, stop

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_width:], skip_special_tokens=True)
        done = torch.tensor([any(s in t for s in self.stop) for t in texts], device=input_ids.device)
        return cast(torch.BoolTensor, done)  # torch's stubs type every op's result as plain Tensor
