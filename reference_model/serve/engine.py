"""The continuous-batching engine: a thread that runs scheduled steps over whatever sequences exist.

Requests join between steps (``add`` from any thread) and leave as soon as they finish or are
aborted; each step runs one forward over every scheduled sequence's chunk (``runner.py``), draws
the next token of each sequence whose tokens are all computed, and hands every sequence its new
text through its ``on_output`` callback (called on the engine thread). A failing step fails the
sequences in it (finish reason "error"), never the engine.
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

from ..model import Transformer
from .batch import build_step
from .blocks import BlockAllocator
from .detok import TextTracker
from .metrics import Metrics
from .runner import ModelRunner
from .sampler import MAX_LOGPROBS, draw, entries_from_logp, logprob_entries
from .scheduler import Scheduled, Scheduler, SchedulerConfig
from .sequence import Output, SamplingParams, Sequence, Status

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineConfig:
    max_model_len: int = 1024
    block_size: int = 16
    num_blocks: int = 4096
    max_num_seqs: int = 64
    max_batched_tokens: int = 512
    max_waiting: int = 256
    enable_prefix_cache: bool = True


class Engine:
    def __init__(self, model: Transformer, tokenizer: Tokenizer, eos_ids: frozenset[int], cfg: EngineConfig,
                 metrics: Metrics | None = None):
        self.cfg, self.tokenizer, self.eos_ids = cfg, tokenizer, eos_ids
        self.metrics = metrics or Metrics()
        self.alloc = BlockAllocator(cfg.num_blocks, cfg.enable_prefix_cache)
        self.scheduler = Scheduler(SchedulerConfig(cfg.max_num_seqs, cfg.max_batched_tokens, cfg.max_waiting,
                                                   cfg.block_size), self.alloc)
        self.runner = ModelRunner(model, cfg.num_blocks, cfg.block_size, cfg.max_model_len)
        self._inbox: queue.SimpleQueue[tuple[str, Sequence]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._ids = itertools.count()
        self._trackers: dict[int, TextTracker] = {}
        self._pending = 0  # sequences added and not yet scheduled (the waiting queue, as the server sees it)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="refmodel-engine", daemon=True)
        self.metrics.gauges["kv_cache_blocks_total"] = cfg.num_blocks

    # -- any thread ------------------------------------------------------------------------------
    def start(self) -> Engine:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def num_waiting(self) -> int:
        return self._pending

    def capacity_tokens(self) -> int:
        return self.cfg.num_blocks * self.cfg.block_size

    def add(self, prompt_ids: list[int], params: SamplingParams, on_output: Callable[[Output], None],
            wait_for: Sequence | None = None) -> Sequence:
        seq = Sequence(next(self._ids), list(prompt_ids), params, on_output, self.eos_ids, wait_for)
        with self._lock:
            self._pending += 1
        self._inbox.put(("add", seq))
        self._wake.set()
        return seq

    def abort(self, seq: Sequence) -> None:
        self._inbox.put(("abort", seq))
        self._wake.set()

    # -- the engine thread -----------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._drain()
            if not self.scheduler.has_work() or not self.step():
                self._wake.wait(0.05)  # nothing to run (or everything waits on a leader): sleep until told
                self._wake.clear()
        self._drain()
        for seq in list(self.scheduler.running) + list(self.scheduler.waiting):
            self._finish(seq, "abort")

    def _drain(self) -> None:
        changed = False
        while True:
            try:
                op, seq = self._inbox.get_nowait()
            except queue.Empty:
                if changed:
                    self._update_gauges()  # an idle engine's gauges show the aborts too
                return
            changed = True
            if op == "add":
                self._trackers[seq.seq_id] = TextTracker(self.tokenizer, seq.params.stop)
                self.scheduler.add(seq)
                self.metrics.counters["prompt_tokens_total"] += len(seq.prompt_ids)
            elif seq.status is not Status.FINISHED:
                self._finish(seq, "abort")

    def step(self) -> bool:
        """One iteration; False when nothing could be scheduled."""
        scheduled = self.scheduler.schedule()
        if not scheduled:
            self._update_gauges()
            return False
        now = time.perf_counter()
        for item in scheduled:
            if item.seq.first_scheduled is None:
                item.seq.first_scheduled = now
                self.metrics.queue.observe(now - item.seq.arrival)
                self.metrics.counters["prompt_tokens_cached_total"] += item.seq.num_cached_tokens
                with self._lock:
                    self._pending -= 1
        try:
            step = build_step(scheduled, self.cfg.block_size, self.cfg.max_batched_tokens)
            logits = self.runner.forward(step.inputs)
            self._process(scheduled, step.prompt_rows, step.sample_rows, logits)
        except Exception:  # a bug or an out-of-memory here must not take the server down
            logger.exception("engine step failed; failing its %d sequences", len(scheduled))
            for item in scheduled:
                self._finish(item.seq, "error")
        self.metrics.step_tokens.observe(sum(item.count for item in scheduled))
        self.metrics.counters["engine_steps_total"] += 1
        self._update_gauges()
        return True

    def _process(self, scheduled: list[Scheduled], prompt_rows: dict[int, tuple[list[int], list[int]]],
                 sample_rows: dict[int, int], logits: torch.Tensor) -> None:
        drawing: list[tuple[Sequence, int]] = []
        for k, item in enumerate(scheduled):
            seq = item.seq
            seq.num_computed = item.start + item.count
            if k in prompt_rows:
                lp_rows, positions = prompt_rows[k]
                logp = logits[lp_rows].float().log_softmax(-1)
                targets = [seq.prompt_ids[p + 1] for p in positions]
                bs = self.cfg.block_size
                for r, (p, entry) in enumerate(zip(positions, entries_from_logp(logp, targets, MAX_LOGPROBS))):
                    seq.prompt_logprobs[p + 1] = entry
                    if (p + 1) % bs == 0 and self.alloc.enable_prefix_cache:
                        seq.tail_rows[p // bs] = logp[r].clone()  # kept for the block's cache entry
                seq.prompt_lp_upto = max(seq.prompt_lp_upto, positions[-1] + 2)
            self.scheduler.commit(seq)
            if k in sample_rows:
                drawing.append((seq, sample_rows[k]))
            elif item.completes and len(seq.output_ids) >= seq.params.max_tokens:
                self._finish(seq, "length")  # max_tokens 0: the prompt (and its log-probs) is the whole answer
        if not drawing:
            return
        picked = logits[[row for _, row in drawing]]
        drawn = draw(picked, [s.params for s, _ in drawing], [s.generator for s, _ in drawing])
        now = time.perf_counter()
        for i, ((seq, _), token) in enumerate(zip(drawing, drawn)):
            if seq.params.logprobs is not None:
                seq.output_logprobs += logprob_entries(picked[i:i + 1], [token], seq.params.logprobs)
            seq.output_ids.append(token)
            self.metrics.counters["generation_tokens_total"] += 1
            if seq.first_token_time is None:
                seq.first_token_time = now
                self.metrics.ttft.observe(now - seq.arrival)
            else:
                self.metrics.itl.observe(now - (seq.last_token_time or now))
            seq.last_token_time = now
            self._advance(seq, token)

    def _advance(self, seq: Sequence, token: int) -> None:
        reason = None
        if token in seq.eos_ids:
            reason = "stop"
        elif len(seq.output_ids) >= seq.params.max_tokens or seq.num_tokens >= self.cfg.max_model_len:
            reason = "length"
        text, stopped = self._trackers[seq.seq_id].update(seq.output_ids, reason is not None)
        if stopped:
            reason = "stop"
        if reason is not None:
            self._finish(seq, reason, text)
        else:
            self._emit(seq, text, finished=False)

    def _emit(self, seq: Sequence, text: str, finished: bool) -> None:
        start, seq.ids_sent = seq.ids_sent, len(seq.output_ids)
        out = Output(seq.seq_id, text, seq.output_ids[start:], seq.output_logprobs[start:], finished,
                     seq.finish_reason, num_prompt_tokens=len(seq.prompt_ids), num_cached_tokens=seq.num_cached_tokens)
        if not seq.prompt_sent:
            seq.prompt_sent = True
            out.prompt_logprobs = seq.prompt_logprobs if seq.params.prompt_logprobs is not None else None
        try:
            seq.on_output(out)
        except Exception:
            logger.exception("output callback of sequence %d failed", seq.seq_id)

    def _finish(self, seq: Sequence, reason: str, text: str | None = None) -> None:
        if seq.status is Status.FINISHED:
            return
        if seq.first_scheduled is None:
            with self._lock:
                self._pending -= 1
        self.scheduler.finish(seq)
        seq.finish_reason = reason
        tracker = self._trackers.pop(seq.seq_id, None)
        if text is None:
            text = tracker.update(seq.output_ids, True)[0] if tracker and reason != "abort" else ""
        self._emit(seq, text, finished=True)
        self.metrics.finished[reason] += 1
        now = time.perf_counter()
        if reason in ("stop", "length"):
            self.metrics.e2e.observe(now - seq.arrival)
            if seq.first_token_time is not None and len(seq.output_ids) > 1:
                self.metrics.tpot.observe((now - seq.first_token_time) / (len(seq.output_ids) - 1))

    def _update_gauges(self) -> None:
        g = self.metrics.gauges
        g["num_requests_running"] = len(self.scheduler.running)
        g["num_requests_waiting"] = len(self.scheduler.waiting)
        g["kv_cache_blocks_used"] = self.alloc.num_used()
        g["kv_cache_usage_perc"] = round(self.alloc.num_used() / self.cfg.num_blocks, 6)
        c = self.metrics.counters
        c["num_preemptions_total"] = self.scheduler.num_preemptions
        c["prefix_cache_queries_total"] = self.alloc.queries * self.cfg.block_size
        c["prefix_cache_hits_total"] = self.alloc.hits * self.cfg.block_size
