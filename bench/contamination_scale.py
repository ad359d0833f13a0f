"""Contamination index at scale: build and query throughput and peak memory at two corpus sizes
(issue 15, must-show 3; results in docs/benchmarks.md).

    python bench/contamination_scale.py                    # 12.5M and 50M tokens, 2 workers
    python bench/contamination_scale.py --tokens 2e6 --workers 1 --out /tmp/small

The corpus is generated once per size and kept under --out: documents of 300-500 words from a
Zipf-distributed vocabulary of 200,000 invented words, in paragraphs, 8 jsonl shards, with the
mini benchmarks' test items planted verbatim in 1 % of the documents. The index is built with
--workers processes; a sampler thread reads the resident memory of this process and its workers
every 0.1 s from /proc (total RSS, and the anonymous part, which excludes file pages of memory-mapped
index tables). Queries: the five mini benchmarks drawn with 10 seeds, checked with the default methods
and with minhash; query throughput counts the benchmark tokens checked per second.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compass.contamination.check import CheckSettings, check_dataset
from compass.contamination.index_build import build_index
from compass.contamination.minisets import write_minisets
from compass.contamination.normalize import tokens
from compass.contamination.planting import render

VOCAB = 200_000


class Sampler:
    """Peak resident memory (kB) of this process and its children, sampled every 0.1 s."""

    def __init__(self) -> None:
        self.peak_total = self.peak_anon = self.peak_file = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree(pid: int) -> list[int]:
        out = [pid]
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in children:
                out += Sampler._tree(int(child))
        return out

    @staticmethod
    def _status(pid: int) -> tuple[int, int, int]:
        fields = {"VmRSS:": 0, "RssAnon:": 0, "RssFile:": 0}
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key = line.split(maxsplit=1)[0] if line else ""
                if key in fields:
                    fields[key] = int(line.split()[1])
        except OSError:
            pass
        return fields["VmRSS:"], fields["RssAnon:"], fields["RssFile:"]

    def _run(self) -> None:
        while not self._stop.is_set():
            stats = [self._status(p) for p in self._tree(os.getpid())]
            self.peak_total = max(self.peak_total, sum(s[0] for s in stats))
            self.peak_anon = max(self.peak_anon, sum(s[1] for s in stats))
            self.peak_file = max(self.peak_file, sum(s[2] for s in stats))
            time.sleep(0.1)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def make_corpus(root: Path, n_tokens: int, planted: list[str], shards: int = 8) -> Path:
    done = root / "DONE"
    if done.is_file():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    rng = np.random.default_rng(n_tokens)
    pick = random.Random(n_tokens)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words = sorted({"".join(pick.choice(syllables) for _ in range(pick.randint(2, 4))) for _ in range(VOCAB * 2)})[:VOCAB]
    cdf = np.cumsum(1 / np.arange(1, len(words) + 1))
    cdf /= cdf[-1]
    files = [(root / f"shard-{i:02d}.jsonl").open("w") for i in range(shards)]
    written = doc = 0
    while written < n_tokens:
        idx = np.searchsorted(cdf, rng.random(1_000_000))
        pos = 0
        while pos < len(idx) and written < n_tokens:
            n = int(rng.integers(300, 500))
            chunk = [words[i] for i in idx[pos:pos + n]]
            paras = [" ".join(chunk[j:j + 80]) for j in range(0, len(chunk), 80)]
            if doc % 100 == 0 and planted:
                paras.insert(1, planted[(doc // 100) % len(planted)])
            files[doc % shards].write(json.dumps({"id": f"doc-{doc}", "text": "\n\n".join(paras) + "."}) + "\n")
            pos += n
            written += n
            doc += 1
    for f in files:
        f.close()
    done.write_text(str(written))
    return root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", nargs="+", type=float, default=[12.5e6, 50e6])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="/tmp/contamination-bench")
    args = ap.parse_args()
    out = Path(args.out)
    sets = {f"{k}-{seed}": s for seed in range(10) for k, s in write_minisets(out / "minisets" / str(seed), seed).items()}
    rng = random.Random(0)
    planted = [render(t, rng) for s in sets.values() for t in s.items[: len(s.items) // 2]]
    query_tokens = sum(len(tokens(t.full)) for s in sets.values() for t in s.items)
    results = []
    for n in args.tokens:
        corpus = make_corpus(out / f"corpus-{int(n)}", int(n), planted)
        size = sum(p.stat().st_size for p in corpus.glob("*.jsonl"))
        load_before = os.getloadavg()
        with Sampler() as build_mem:
            started = time.perf_counter()
            index = build_index([str(corpus)], out / f"index-{int(n)}", workers=args.workers)
            build_s = time.perf_counter() - started
        index_bytes = sum(p.stat().st_size for p in index.root.iterdir())
        row = {"corpus_tokens": index.meta.tokens, "corpus_mb": round(size / 1e6, 1), "docs": index.meta.docs,
               "workers": args.workers, "build_s": round(build_s, 1),
               "build_tokens_per_s": round(index.meta.tokens / build_s), "index_mb": round(index_bytes / 1e6, 1),
               "build_peak_rss_mb": round(build_mem.peak_total / 1e3), "build_peak_anon_mb": round(build_mem.peak_anon / 1e3),
               "build_peak_file_mb": round(build_mem.peak_file / 1e3),
               "load_before": [round(x, 2) for x in load_before], "benchmark_items": sum(len(s.items) for s in sets.values()),
               "benchmark_tokens": query_tokens}
        for name, methods in (("default", ("ngram", "longest")), ("with_minhash", ("ngram", "longest", "minhash"))):
            with Sampler() as query_mem:
                started = time.perf_counter()
                flagged = sum(sum(r.label == "contaminated" for r in check_dataset(s.items, index, CheckSettings(methods)))
                              for s in sets.values())
                query_s = time.perf_counter() - started
            row[f"query_{name}_s"] = round(query_s, 2)
            row[f"query_{name}_tokens_per_s"] = round(query_tokens / query_s)
            row[f"query_{name}_peak_rss_mb"] = round(query_mem.peak_total / 1e3)
            row[f"query_{name}_peak_anon_mb"] = round(query_mem.peak_anon / 1e3)
            row[f"query_{name}_peak_file_mb"] = round(query_mem.peak_file / 1e3)
            row[f"query_{name}_contaminated"] = flagged
        row["load_after"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(row), flush=True)
        results.append(row)
    (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
