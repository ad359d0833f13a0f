"""Iteration-level scheduling: which sequences compute which tokens in the next step.

Every step has a token budget (``max_batched_tokens``). Running sequences go first, in the order
they were admitted: a decoding one computes its one new token, a prefilling one the next chunk of
its prompt that fits the budget (chunked prefill). Waiting sequences are then admitted first come,
first served while the budget, ``max_num_seqs`` and the free cache blocks allow; on admission a
sequence takes the longest run of its prefix's full blocks that the prefix cache holds.

When a running sequence needs a block and none is free, the most recently admitted sequence is
preempted: its blocks are released and it goes back to the front of the queue, to be recomputed
later (its registered blocks mostly survive in the prefix cache). Admission keeps a small reserve
of blocks free so that new sequences do not immediately force preemptions.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .blocks import ROOT, BlockAllocator, block_digest
from .sampler import MAX_LOGPROBS, entry_from_row
from .sequence import BlockMeta, Sequence, Status


@dataclass(frozen=True)
class SchedulerConfig:
    max_num_seqs: int = 64
    max_batched_tokens: int = 512
    max_waiting: int = 256
    block_size: int = 16
    reserve_blocks: int = 1


@dataclass
class Scheduled:
    seq: Sequence
    start: int  # first position computed in this step
    count: int  # tokens computed in this step

    @property
    def completes(self) -> bool:
        """After this step every token of the sequence is computed: its next token can be drawn."""
        return self.start + self.count == self.seq.num_tokens


class Scheduler:
    def __init__(self, cfg: SchedulerConfig, allocator: BlockAllocator):
        self.cfg, self.alloc = cfg, allocator
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.num_preemptions = 0

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def blocks_needed(self, num_tokens: int) -> int:
        return -(-num_tokens // self.cfg.block_size)

    # -- one step --------------------------------------------------------------------------------
    def schedule(self) -> list[Scheduled]:
        budget = self.cfg.max_batched_tokens
        out: list[Scheduled] = []
        for seq in list(self.running):
            if seq.status is not Status.RUNNING or budget == 0:
                continue
            count = min(seq.num_tokens - seq.num_computed, budget)
            while not self._grow(seq, seq.num_computed + count, reserve=0):
                self._preempt(self.running[-1])
                if seq.status is not Status.RUNNING:
                    break
            if seq.status is Status.RUNNING:
                out.append(Scheduled(seq, seq.num_computed, count))
                budget -= count
        gated: list[Sequence] = []
        while self.waiting and budget > 0 and len(self.running) < self.cfg.max_num_seqs:
            seq = self.waiting[0]
            leader = seq.wait_for
            if leader is not None and leader.status is not Status.FINISHED and not leader.prefilled:
                gated.append(self.waiting.popleft())  # its prefix is being computed: take it from the cache later
                continue
            if not seq.blocks:
                self._reuse_prefix(seq)
            count = min(seq.num_tokens - seq.num_computed, budget)
            if not self._grow(seq, seq.num_computed + count, reserve=self.cfg.reserve_blocks):
                self._release(seq)
                break
            self.waiting.popleft()
            seq.status = Status.RUNNING
            self.running.append(seq)
            out.append(Scheduled(seq, seq.num_computed, count))
            budget -= count
        self.waiting.extendleft(reversed(gated))
        return out

    def _grow(self, seq: Sequence, num_tokens: int, reserve: int) -> bool:
        need = self.blocks_needed(num_tokens) - len(seq.blocks)
        if need <= 0:
            return True
        if self.alloc.num_available() - need < reserve:
            return False
        for _ in range(need):
            block = self.alloc.allocate()
            assert block is not None
            seq.blocks.append(block)
        return True

    # -- prefix cache ----------------------------------------------------------------------------
    def _reuse_prefix(self, seq: Sequence) -> None:
        bs, ids = self.cfg.block_size, seq.all_ids
        need_meta = seq.wants_prompt_logprobs()  # then only blocks that carry their prompt log-probs will do
        parent = ROOT
        meta: BlockMeta | None = None
        # At least the last token is always computed: its logits draw the next token.
        for i in range((len(ids) - 1) // bs):
            digest = block_digest(parent, ids[i * bs:(i + 1) * bs])
            block = self.alloc.lookup(digest, need_meta)
            if block is None:
                break
            seq.blocks.append(block)
            seq.digests.append(digest)
            meta = self.alloc.meta.get(block)
            if need_meta and meta is not None:
                for k, entry in enumerate(meta.entries):
                    seq.prompt_logprobs[i * bs + k] = entry
            parent = digest
        seq.num_computed = len(seq.blocks) * bs
        if need_meta and meta is not None and seq.num_computed < len(seq.prompt_ids):
            # The first token after the reused blocks: its log-prob comes from the last block's final logits.
            p = seq.num_computed
            seq.prompt_logprobs[p] = entry_from_row(meta.tail, seq.prompt_ids[p], MAX_LOGPROBS)
            seq.prompt_lp_upto = max(seq.prompt_lp_upto, p + 1)
        if seq.first_scheduled is None:
            seq.num_cached_tokens = min(seq.num_computed, len(seq.prompt_ids))

    def commit(self, seq: Sequence) -> None:
        """Register the sequence's newly completed full blocks in the prefix cache, with their prompt
        log-probs and final next-token distribution where the sequence computed them."""
        bs = self.cfg.block_size
        ids = seq.all_ids
        for i in range(len(seq.digests), seq.num_computed // bs):
            parent = seq.digests[-1] if seq.digests else ROOT
            digest = block_digest(parent, ids[i * bs:(i + 1) * bs])
            tail = seq.tail_rows.pop(i, None)
            meta = None
            if tail is not None and (i + 1) * bs <= seq.prompt_lp_upto:
                meta = BlockMeta(seq.prompt_logprobs[i * bs:(i + 1) * bs], tail)
            self.alloc.register(seq.blocks[i], digest, meta)
            seq.digests.append(digest)

    # -- leaving ---------------------------------------------------------------------------------
    def _release(self, seq: Sequence) -> None:
        for block in seq.blocks:
            self.alloc.release(block)
        seq.blocks, seq.digests, seq.num_computed = [], [], 0

    def _preempt(self, seq: Sequence) -> None:
        self._release(seq)
        self.running.remove(seq)
        seq.status = Status.WAITING
        self.waiting.appendleft(seq)
        self.num_preemptions += 1

    def finish(self, seq: Sequence) -> None:
        """Done or aborted: leave the queues and give the blocks back (registered ones stay cached)."""
        self._release(seq)
        if seq in self.running:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        seq.status = Status.FINISHED
