"""Prometheus metrics of the server, in the text exposition format (``GET /metrics``).

Histograms: time to first token, inter-token latency, time per output token (per request),
queue time, end-to-end latency, tokens per step. Gauges: running and waiting requests, KV-cache
use. Counters: prompt and generated tokens, finished requests by reason, preemptions, prefix-cache
lookups and hits. Names follow vLLM's where one exists (``refmodel:`` prefix instead of ``vllm:``).
"""
from __future__ import annotations

import bisect
import threading
from collections import Counter

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                   10.0, 20.0, 40.0, 80.0)
TOKEN_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]):
        self.name, self.help, self.buckets = name, help_text, buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum, self.count = 0.0, 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        running = 0
        for bound, n in zip(self.buckets, self.counts):
            running += n
            lines.append(f'{self.name}_bucket{{le="{bound}"}} {running}')
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {self.count}')
        lines += [f"{self.name}_sum {self.sum}", f"{self.name}_count {self.count}"]
        return lines


class Metrics:
    def __init__(self):
        self.lock = threading.Lock()
        h = Histogram
        self.ttft = h("refmodel:time_to_first_token_seconds", "Time from arrival to the first output token.",
                      LATENCY_BUCKETS)
        self.itl = h("refmodel:inter_token_latency_seconds", "Time between consecutive output tokens.", LATENCY_BUCKETS)
        self.tpot = h("refmodel:time_per_output_token_seconds", "Per request: (latency - ttft) / (tokens - 1).",
                      LATENCY_BUCKETS)
        self.queue = h("refmodel:request_queue_time_seconds", "Time from arrival to the first scheduled step.",
                       LATENCY_BUCKETS)
        self.e2e = h("refmodel:e2e_request_latency_seconds", "Time from arrival to the last output.", LATENCY_BUCKETS)
        self.step_tokens = h("refmodel:iteration_tokens_total", "Tokens computed per engine step.", TOKEN_BUCKETS)
        self.counters: Counter[str] = Counter()
        self.finished: Counter[str] = Counter()
        self.gauges: dict[str, float] = {"num_requests_running": 0, "num_requests_waiting": 0, "kv_cache_usage_perc": 0,
                                         "kv_cache_blocks_used": 0, "kv_cache_blocks_total": 0}

    def render(self) -> str:
        with self.lock:
            lines: list[str] = []
            for name, value in self.gauges.items():
                lines += [f"# TYPE refmodel:{name} gauge", f"refmodel:{name} {value}"]
            for name in ("prompt_tokens_total", "generation_tokens_total", "num_preemptions_total",
                         "prefix_cache_queries_total", "prefix_cache_hits_total", "prompt_tokens_cached_total",
                         "engine_steps_total", "requests_rejected_total"):
                lines += [f"# TYPE refmodel:{name} counter", f"refmodel:{name} {self.counters[name]}"]
            lines.append("# TYPE refmodel:request_success_total counter")
            for reason in sorted(set(self.finished) | {"stop", "length", "abort"}):
                lines.append(f'refmodel:request_success_total{{finished_reason="{reason}"}} {self.finished[reason]}')
            for hist in (self.ttft, self.itl, self.tpot, self.queue, self.e2e, self.step_tokens):
                lines += hist.render()
            return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, float]:
    """Sample name (with labels) -> value, for tests and the bench."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out
