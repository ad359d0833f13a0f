"""A fault-injecting HTTP proxy in front of an OpenAI-compatible server, for tests: real sockets.

    with FaultProxy(upstream.url, seeded(rate=0.3, seed=7)) as proxy:
        proxy.url        # "http://127.0.0.1:<port>/v1", for api_base
        proxy.injected   # Counter: faults injected so far, by kind

Each fault is what a client meets on the wire:

- ``429``: HTTP 429 with ``Retry-After`` and an OpenAI-style error body;
- ``5xx``: HTTP 500, 502 (with an HTML body, as a load balancer sends it) or 503;
- ``hang``: the request is read, then nothing comes back for ``hang_s`` (longer than the client's
  timeout), then the connection closes;
- ``reset``: the connection is reset (TCP RST) once the request is read;
- ``truncated``: the server's 200 answer cut in half, with a Content-Length that fits the cut body,
  so the client reads a complete HTTP response holding broken JSON;
- ``no_choices`` / ``empty_choices``: the server's 200 JSON without ``choices``, or with ``[]``;
- ``rotate_logprobs``: the ``logprobs`` of the choices moved one choice on (each choice's text
  stays), as a server that mixed up its prompts would answer;
- ``cut_last_token``: the last token dropped from every choice's ``logprobs``, as a server that
  cut the prompt short would answer.

Only POSTs (completion requests) get faults; ``GET /v1/models`` passes through, so the preflight
check meets a working server. A *policy* picks the fault of each request from the request body
and how often that body has been seen (1 for the first attempt), never from thread timing, so a
seeded run injects the same faults however the client's threads interleave.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import select
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

TRANSPORT = ("429", "5xx", "hang", "reset")
BROKEN_200 = ("truncated", "no_choices", "empty_choices")
MISALIGNED = ("rotate_logprobs", "cut_last_token")
ALL_TRANSIENT = TRANSPORT + BROKEN_200

Policy = Callable[[bytes, int], "str | None"]  # (request body, attempt number) -> fault kind or None


def seeded(rate: float, seed: int, kinds: tuple[str, ...] = ALL_TRANSIENT) -> Policy:
    """A fault on a fraction ``rate`` of attempts, its kind drawn among ``kinds`` (a kind listed
    twice is drawn twice as often); every attempt of a request is its own draw."""
    def policy(body: bytes, attempt: int) -> str | None:
        digest = hashlib.sha256(b"%d|%d|" % (seed, attempt) + body).digest()
        if int.from_bytes(digest[:4], "big") / 2 ** 32 >= rate:
            return None
        return kinds[int.from_bytes(digest[4:8], "big") % len(kinds)]
    return policy


def first_attempts(*kinds: str) -> Policy:
    """Attempt k of every request gets ``kinds[k-1]``; later attempts pass."""
    return lambda body, attempt: kinds[attempt - 1] if attempt <= len(kinds) else None


def always(kind: str, when: Callable[[bytes], bool] = lambda body: True) -> Policy:
    """``kind`` on every attempt of the requests ``when`` picks (all of them by default)."""
    return lambda body, attempt: kind if when(body) else None


class FaultProxy:
    def __init__(self, upstream: str, policy: Policy, hang_s: float = 3.0, retry_after: str = "1"):
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.policy, self.hang_s, self.retry_after = policy, hang_s, retry_after
        self.injected: Counter[str] = Counter()
        self.attempts = 0  # POSTs received
        self._seen: Counter[bytes] = Counter()
        self._lock = threading.Lock()
        self.closing = threading.Event()  # ends the hangs when the proxy closes
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}{parts.path}"

    def decide(self, body: bytes) -> str | None:
        with self._lock:
            self._seen[body] += 1
            self.attempts += 1
            kind = self.policy(body, self._seen[body])
            if kind is not None:
                self.injected[kind] += 1
            return kind

    def forward(self, method: str, path: str, headers: dict, body: bytes,
                client: socket.socket | None = None) -> tuple[int, dict, bytes] | None:
        """The upstream's answer; None if ``client`` left first (the upstream connection is then
        closed too, so the server sees the disconnect, as it would without a proxy)."""
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=600)
        answer: list = []

        def ask() -> None:
            try:
                conn.request(method, path, body=body or None, headers=headers)
                resp = conn.getresponse()
                answer.append((resp.status, dict(resp.getheaders()), resp.read()))
            except OSError:  # closed below: the client left
                pass

        worker = threading.Thread(target=ask, daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.05)
                if worker.is_alive() and client is not None and client_gone(client):
                    if conn.sock is not None:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    worker.join()
                    return None
        finally:
            conn.close()
        return answer[0] if answer else None

    def __enter__(self) -> Self:
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def client_gone(sock: socket.socket) -> bool:
    """The peer closed (or reset) the connection: readable, yet nothing to read."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def corrupt(kind: str, data: bytes) -> bytes:
    """The upstream's 200 body as the fault ``kind`` leaves it."""
    if kind == "truncated":
        return data[:len(data) // 2]
    obj = json.loads(data)
    if kind == "no_choices":
        obj.pop("choices", None)
    elif kind == "empty_choices":
        obj["choices"] = []
    elif kind == "rotate_logprobs":
        logprobs = [c.get("logprobs") for c in obj["choices"]]
        for choice, moved in zip(obj["choices"], logprobs[-1:] + logprobs[:-1]):
            choice["logprobs"] = moved
    elif kind == "cut_last_token":
        for choice in obj["choices"]:
            for value in (choice.get("logprobs") or {}).values():
                if isinstance(value, list):
                    del value[-1:]
    return json.dumps(obj).encode()


def _handler(proxy: FaultProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, data: bytes, content_type: str = "application/json",
                  extra: dict | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up meanwhile
                pass

        def _headers(self) -> dict:
            return {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}

        def do_GET(self) -> None:
            forwarded = proxy.forward("GET", self.path, self._headers(), b"")
            if forwarded is None:
                self.send_error(502)
                return
            status, headers, data = forwarded
            self._send(status, data, headers.get("Content-Type", "application/json"))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            kind = proxy.decide(body)
            if kind == "hang":
                proxy.closing.wait(proxy.hang_s)
                self.close_connection = True
                return
            if kind == "reset":  # linger 0: close() sends RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            if kind == "429":
                error = {"error": {"message": "Rate limit reached, retry later", "type": "rate_limit_error"}}
                self._send(429, json.dumps(error).encode(), extra={"Retry-After": proxy.retry_after})
                return
            if kind == "5xx":
                status = (500, 502, 503)[int(hashlib.sha256(body).hexdigest(), 16) % 3]
                if status == 502:
                    self._send(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
                else:
                    self._send(status, json.dumps({"error": {"message": f"upstream failure {status}"}}).encode())
                return
            forwarded = proxy.forward("POST", self.path, self._headers(), body, self.connection)
            if forwarded is None:
                self.close_connection = True
                return
            status, headers, data = forwarded
            if status == 200 and kind is not None:
                data = corrupt(kind, data)
            self._send(status, data, headers.get("Content-Type", "application/json"))

    return Handler
