"""One sequence in the engine: its request's parameters, tokens, cache blocks and timings.

A sequence computes ``all_ids[num_computed:]`` over one or more steps (chunked prefill); once
every token it holds is computed, the logits of the last one give its next token. Preemption
releases its blocks and sets ``num_computed`` back to 0: it is recomputed later (prompt and the
tokens generated so far), mostly from the prefix cache.
"""
from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: int | None = None         # top alternatives per generated token (None: no log-probs)
    prompt_logprobs: int | None = None  # the same for every prompt token (echo with logprobs)


class Status(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass
class TokenLogprob:
    token: int
    logprob: float
    top: list[tuple[int, float]]  # the most likely tokens, best first


@dataclass
class BlockMeta:
    """What a cached block keeps for echo requests: the prompt log-probs of its positions, and the
    log-softmax at its last position (the log-prob of whatever token follows the block)."""
    entries: list[TokenLogprob | None]
    tail: torch.Tensor


@dataclass
class Output:
    """What a sequence sends after a step: the text and tokens new since the last one."""
    seq_id: int
    text: str
    token_ids: list[int]
    logprobs: list[TokenLogprob]
    finished: bool = False
    finish_reason: str | None = None  # stop | length | abort
    prompt_logprobs: list[TokenLogprob | None] | None = None  # once, with the first output
    num_prompt_tokens: int = 0
    num_cached_tokens: int = 0


@dataclass(eq=False)
class Sequence:
    seq_id: int
    prompt_ids: list[int]
    params: SamplingParams
    on_output: Callable[[Output], None]
    eos_ids: frozenset[int] = frozenset()
    wait_for: Sequence | None = None  # not admitted before this one has prefilled (it shares our prefix)
    output_ids: list[int] = field(default_factory=list)
    output_logprobs: list[TokenLogprob] = field(default_factory=list)
    prompt_logprobs: list[TokenLogprob | None] = field(default_factory=list)  # by position, when asked for
    prompt_lp_upto: int = 0  # prompt_logprobs holds positions [0, prompt_lp_upto)
    tail_rows: dict[int, torch.Tensor] = field(default_factory=dict)  # block -> log-softmax at its last position
    status: Status = Status.WAITING
    num_computed: int = 0
    blocks: list[int] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)  # of this sequence's full, registered blocks
    num_cached_tokens: int = 0  # prompt tokens the prefix cache served at first admission
    generator: torch.Generator | None = None
    arrival: float = field(default_factory=time.perf_counter)
    first_scheduled: float | None = None
    last_token_time: float | None = None
    first_token_time: float | None = None
    finish_reason: str | None = None
    prompt_sent: bool = False  # the prompt log-probs went out with the first output
    ids_sent: int = 0  # output tokens already handed out

    def __post_init__(self):
        if self.params.prompt_logprobs is not None:
            self.prompt_logprobs = [None] * len(self.prompt_ids)
            self.prompt_lp_upto = 1  # the first token has no log-prob
        if self.params.seed is not None:
            self.generator = torch.Generator().manual_seed(self.params.seed)

    @property
    def all_ids(self) -> list[int]:
        return self.prompt_ids + self.output_ids

    @property
    def num_tokens(self) -> int:
        return len(self.prompt_ids) + len(self.output_ids)

    @property
    def prefilled(self) -> bool:
        """Every prompt token's keys and values have been computed at least once."""
        return self.first_token_time is not None or self.num_computed >= len(self.prompt_ids)

    def wants_prompt_logprobs(self) -> bool:
        return self.params.prompt_logprobs is not None and self.prompt_lp_upto < len(self.prompt_ids)
