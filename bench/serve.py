"""Load generator for ``refmodel serve`` (or any OpenAI-compatible server): throughput and latency.

    python bench/serve.py [--ckpt examples/assets/reference-demo | --url http://127.0.0.1:8000/v1 --model NAME]
                          [--concurrency 1,4,16,32,64] [--requests-per-client 4] [--prompt-tokens 64]
                          [--max-tokens 128] [--load-test 1000] [--load-concurrency 64] [--json out.json]
                          [--max-wait 120]

Without ``--url`` it starts ``refmodel serve CKPT --port 0`` itself (``--server-arg`` adds flags).
Each concurrency level runs that many closed-loop clients, each sending ``--requests-per-client``
streaming ``/v1/completions`` requests one after the other over its own keep-alive connection
(a minimal asyncio HTTP/1.1 client: the client's own CPU use stays small next to the server's on
a 2-core machine). Prompts are distinct, of ``--prompt-tokens`` words each, greedy, ``max_tokens``
fixed; a request's output tokens are the ``completion_tokens`` of its final usage chunk.

Reported per level: requests/s, output tokens/s, TTFT, TPOT ((latency - TTFT) / (tokens - 1) per
request), ITL (gaps between streamed chunks, one token each here) and end-to-end latency at
p50/p90/p99, and output tokens/s against the nearest 1-client level (a list such as
``1,32,1,32,1,32`` alternates, and the median and minimum of the rounds' ratios are reported; each
level has its own prompts, so no level reuses another's prefix cache). ``--load-test N`` then
sends N requests with ``--load-concurrency`` clients and counts HTTP statuses (a 429 is retried
after its Retry-After and counted; a 5xx is a failure).
The CPU that other processes used meanwhile is recorded (the machine is shared).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import random
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from quiet import cpu_busy_s, set_priority, wait_idle  # noqa: E402

WORDS = ["river", "stone", "cloud", "table", "music", "light", "paper", "horse", "chair", "bread", "ocean", "tiger",
         "plant", "smile", "dream", "glass"]


# -- a minimal HTTP/1.1 client (keep-alive, Content-Length or chunked bodies, SSE) ----------------
class Conn:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, path: str, body: dict, on_event=None) -> tuple[int, dict, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        data = json.dumps(body).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        body_bytes = b""
        if headers.get("transfer-encoding") == "chunked":
            pending = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                pending += chunk[:-2]
                while b"\n\n" in pending:
                    event, pending = pending.split(b"\n\n", 1)
                    if on_event is not None:
                        on_event(event)
        else:
            body_bytes = await self.reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection") == "close":
            self.close()
        return status, headers, body_bytes

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def prompts(n: int, words: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [f"Story {i}: " + " ".join(rng.choice(WORDS) for _ in range(words)) for i in range(n)]


async def one_request(conn: Conn, model: str, prompt: str, max_tokens: int, stream: bool) -> dict:
    body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    times: list[float] = []
    usage: dict = {}

    def on_event(event: bytes) -> None:
        payload = event[6:] if event.startswith(b"data: ") else event
        if payload == b"[DONE]":
            return
        chunk = json.loads(payload)
        if chunk.get("usage"):
            usage.update(chunk["usage"])
        elif chunk.get("choices") and chunk["choices"][0].get("text"):
            times.append(time.perf_counter())

    t0 = time.perf_counter()
    status, headers, raw = await conn.request("/v1/completions", body, on_event)
    end = time.perf_counter()
    if not stream and status == 200:
        usage = json.loads(raw)["usage"]
    return {"status": status, "start": t0, "end": end, "times": times, "tokens": usage.get("completion_tokens", 0),
            "retry_after": headers.get("retry-after")}


async def run_level(host: str, port: int, model: str, clients: int, per_client: int, texts: list[str],
                    max_tokens: int, stream: bool = True) -> list[dict]:
    queue = list(range(clients * per_client))
    results: list[dict] = []

    async def client() -> None:
        conn = Conn(host, port)
        try:
            while queue:
                k = queue.pop()
                while True:
                    r = await one_request(conn, model, texts[k % len(texts)], max_tokens, stream)
                    results.append(r)
                    if r["status"] != 429:
                        break
                    await asyncio.sleep(float(r["retry_after"] or 1))
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return results


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def summarize(results: list[dict], wall: float) -> dict:
    ok = [r for r in results if r["status"] == 200]
    ttft = [r["times"][0] - r["start"] for r in ok if r["times"]]
    tpot = [(r["end"] - r["times"][0]) / (r["tokens"] - 1) for r in ok if r["times"] and r["tokens"] > 1]
    itl = [b - a for r in ok for a, b in zip(r["times"], r["times"][1:])]
    latency = [r["end"] - r["start"] for r in ok]
    tokens = sum(r["tokens"] for r in ok)
    out = {"requests": len(ok), "wall_s": round(wall, 3), "requests_per_s": round(len(ok) / wall, 3),
           "output_tokens": tokens, "output_tokens_per_s": round(tokens / wall, 1),
           "statuses": {str(s): sum(r["status"] == s for r in results) for s in sorted({r["status"] for r in results})}}
    for name, values in (("ttft", ttft), ("tpot", tpot), ("itl", itl), ("latency", latency)):
        for q in (50, 90, 99):
            v = pct(values, q)
            out[f"{name}_p{q}_ms"] = None if v is None else round(1000 * v, 2)
    return out


def start_server(args) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "reference_model.cli", "serve", args.ckpt, "--port", "0", "--name", args.model,
           *args.server_arg]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening on" in line:
            return proc, line.rsplit(" ", 1)[-1].strip()
    raise SystemExit(f"server did not start: {proc.wait()}")


def measure(args, host: str, port: int) -> dict:
    n_texts = max(args.concurrency) * args.requests_per_client
    levels = []
    asyncio.run(run_level(host, port, args.model, 2, 1, prompts(n_texts, args.prompt_tokens, seed=99), 8))  # warm-up
    for index, clients in enumerate(args.concurrency):
        # Each level its own prompts: a level repeated later finds nothing of the earlier one in the prefix cache.
        texts = prompts(n_texts, args.prompt_tokens, seed=100 + index)
        waited = wait_idle(args.max_wait) if args.max_wait else 0.0
        b0, t0 = cpu_busy_s(), time.perf_counter()
        results = asyncio.run(run_level(host, port, args.model, clients, args.requests_per_client, texts,
                                        args.max_tokens))
        wall = time.perf_counter() - t0
        row = {"concurrency": clients, **summarize(results, wall), "machine_busy_cores": round((cpu_busy_s() - b0) / wall, 2),
               "idle_wait_s": round(waited, 1)}
        levels.append(row)
        print(json.dumps(row), flush=True)
    out: dict = {"levels": levels}
    # Each level against the nearest 1-client level measured before it (after it for levels that open the
    # list): with --concurrency 1,32,1,32,... the rounds alternate and each ratio compares neighbours.
    ratios: dict[str, list[float]] = {}
    for k, lv in enumerate(levels):
        ones = [j for j, o in enumerate(levels) if o["concurrency"] == 1]
        if not ones or lv["concurrency"] == 1:
            continue
        before = [j for j in ones if j < k]
        base = levels[before[-1] if before else ones[0]]
        lv["tokens_per_s_vs_1"] = round(lv["output_tokens_per_s"] / base["output_tokens_per_s"], 2)
        ratios.setdefault(str(lv["concurrency"]), []).append(lv["tokens_per_s_vs_1"])
    if ratios:
        out["tokens_per_s_vs_1"] = {c: {"each": r, "median": sorted(r)[len(r) // 2], "min": min(r)}
                                    for c, r in ratios.items()}
        print(json.dumps({"tokens_per_s_vs_1": out["tokens_per_s_vs_1"]}), flush=True)
    if args.load_test:
        texts = prompts(args.load_test, args.prompt_tokens, seed=1)
        b0, t0 = cpu_busy_s(), time.perf_counter()
        results = asyncio.run(run_level(host, port, args.model, args.load_concurrency,
                                        -(-args.load_test // args.load_concurrency), texts, args.load_max_tokens,
                                        stream=False))
        wall = time.perf_counter() - t0
        load = {"requests_sent": len(results), "concurrency": args.load_concurrency, **summarize(results, wall),
                "server_errors_5xx": sum(r["status"] >= 500 for r in results),
                "machine_busy_cores": round((cpu_busy_s() - b0) / wall, 2)}
        out["load_test"] = load
        print(json.dumps(load), flush=True)
    return out


def scoring_requests(n: int) -> list[dict]:
    """MMLU-format 5-shot log-likelihood requests as compass sends them: the context alone, then the
    context followed by each of " A".." D", with echo, logprobs 0 and max_tokens 0."""
    import csv

    root = REPO / "examples" / "data" / "mmlu-mini" / "data"
    bodies = []
    for test in sorted((root / "test").glob("*_test.csv")):
        subject = test.name[: -len("_test.csv")]
        shots = list(csv.reader((root / "dev" / f"{subject}_dev.csv").open()))[:5]

        def block(r: list[str], gold: bool) -> str:
            return f"{r[0]}\nA. {r[1]}\nB. {r[2]}\nC. {r[3]}\nD. {r[4]}\nAnswer:" + (f" {r[5]}\n\n" if gold else "")

        head = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"
        head += "".join(block(r, True) for r in shots)
        for row in csv.reader(test.open()):
            context = head + block(row, False)
            bodies.append({"prompt": [context] + [context + f" {c}" for c in "ABCD"], "echo": True, "logprobs": 0,
                           "max_tokens": 0, "temperature": 0})
    return bodies[:n]


async def run_scoring(host: str, port: int, model: str, bodies: list[dict], clients: int) -> list[int]:
    queue = list(range(len(bodies)))
    statuses: list[int] = []

    async def client() -> None:
        conn = Conn(host, port)
        try:
            while queue:
                status, _, _ = await conn.request("/v1/completions", {"model": model, **bodies[queue.pop()]})
                statuses.append(status)
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return statuses


def prefix_test(args) -> dict:
    """The same scoring requests against a server with and without the prefix cache."""
    bodies = scoring_requests(args.prefix_test)
    out: dict = {}
    for label, extra in (("prefix_cache", []), ("no_prefix_cache", ["--no-prefix-cache"])):
        saved = args.server_arg
        args.server_arg = saved + extra
        proc, url = start_server(args)
        args.server_arg = saved
        parts = urlsplit(url)
        try:
            if args.max_wait:
                wait_idle(args.max_wait)
            b0, t0 = cpu_busy_s(), time.perf_counter()
            statuses = asyncio.run(run_scoring(parts.hostname or "127.0.0.1", parts.port or 80, args.model, bodies, 4))
            wall = time.perf_counter() - t0
            with urllib.request.urlopen(url.removesuffix("/v1") + "/metrics") as r:
                text = r.read().decode()
            served = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                      if line.startswith(("refmodel:prompt_tokens_total", "refmodel:prompt_tokens_cached_total"))}
        finally:
            proc.terminate()
            proc.wait(60)
        out[label] = {"requests": len(bodies), "wall_s": round(wall, 2), "requests_per_s": round(len(bodies) / wall, 2),
                      "ok": statuses.count(200), "machine_busy_cores": round((cpu_busy_s() - b0) / wall, 2), **served}
        print(json.dumps({label: out[label]}), flush=True)
    out["speedup"] = round(out["no_prefix_cache"]["wall_s"] / out["prefix_cache"]["wall_s"], 2)
    return out


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", default=str(REPO / "examples" / "assets" / "reference-demo"))
    p.add_argument("--url", help="an already running server's base URL (…/v1); else one is started")
    p.add_argument("--model", default="reference-demo")
    p.add_argument("--server-arg", action="append", default=[], help="extra `refmodel serve` flag (repeatable)")
    p.add_argument("--concurrency", default="1,4,16,32,64")
    p.add_argument("--requests-per-client", type=int, default=4)
    p.add_argument("--prompt-tokens", type=int, default=48, help="words per prompt (about one token each)")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--load-test", type=int, default=0, help="requests of the bounded load test (0: none)")
    p.add_argument("--load-concurrency", type=int, default=64)
    p.add_argument("--load-max-tokens", type=int, default=32)
    p.add_argument("--prefix-test", type=int, default=0,
                   help="also time this many 5-shot scoring requests with and without the prefix cache (0: none)")
    p.add_argument("--max-wait", type=float, default=0, help="wait up to this long for the machine to go quiet")
    p.add_argument("--nice", type=int, default=0, help="priority of the bench and its server (negative: root only)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.nice:
        set_priority(args.nice)
    result: dict = {}
    if args.concurrency:
        proc, url = (None, args.url) if args.url else start_server(args)
        parts = urlsplit(url)
        try:
            result = measure(args, parts.hostname or "127.0.0.1", parts.port or 80)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(60)
    if args.prefix_test:
        result["prefix_test"] = prefix_test(args)
    result["setup"] = {"date": datetime.date.today().isoformat(), "machine": f"{os.cpu_count()}-core CPU, "
                       f"{platform.processor() or platform.machine()}", "ckpt": args.ckpt, "server_args": args.server_arg,
                       "prompt_words": args.prompt_tokens, "max_tokens": args.max_tokens,
                       "requests_per_client": args.requests_per_client, "loadavg_after": os.getloadavg(),
                       "command": "python bench/serve.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
