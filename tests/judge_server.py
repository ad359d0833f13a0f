"""A small OpenAI-compatible HTTP server for tests: real sockets on 127.0.0.1, pluggable answers.

    with JudgeServer(fixed("42")) as server:
        server.url        # "http://127.0.0.1:<port>/v1", for api_base
        server.count()    # completion requests received (``/models`` lookups are not counted)

It serves ``/v1/chat/completions``, ``/v1/completions`` (with ``echo`` + ``logprobs`` scoring: one
token per whitespace-led word, each worth ``logprob(token)``) and ``/v1/models``. A behaviour maps
(prompt, request body) to the answer's text or a :class:`Reply` (an error status, a delay). The
ready-made ones below are deterministic functions of the prompt, so re-asking gets the same answer.
Stop strings are recorded but not applied, so tests see the client cut at them.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay_s: float = 0.0
    headers: dict = field(default_factory=dict)


Behaviour = Callable[[str, dict], "str | Reply"]


class JudgeServer:
    def __init__(self, behaviour: Behaviour, key: str | None = None, can_score: bool = True,
                 logprob: Callable[[str], float] = lambda token: -1.0):
        self.behaviour, self.key, self.can_score, self.logprob = behaviour, key, can_score, logprob
        self.requests: list[dict] = []  # completion request bodies, in arrival order
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # a test may leave a handler blocked on purpose
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def count(self, model: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if model is None or r.get("model") == model)

    def prompts(self, model: str | None = None) -> list[str]:
        with self._lock:
            return [prompt_of(r) for r in self.requests if model is None or r.get("model") == model]

    def __enter__(self) -> JudgeServer:
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def prompt_of(body: dict) -> str:
    if "messages" in body:
        return body["messages"][-1]["content"]
    prompt = body.get("prompt", "")
    return prompt if isinstance(prompt, str) else "\n".join(prompt)


def _handler(server: JudgeServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, obj: dict, headers: dict | None = None) -> None:
            self._answered()
            data = json.dumps(obj).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, str(v))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client was killed meanwhile
                pass

        def _authorised(self) -> bool:
            if server.key is None or self.headers.get("Authorization") == f"Bearer {server.key}":
                return True
            self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                       "code": "invalid_api_key"}})
            return False

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if not self._authorised():
                return
            if self.path not in ("/v1/chat/completions", "/v1/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            with server._lock:
                server.requests.append(body)
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            self._in_flight = True
            try:
                if self.path == "/v1/completions" and body.get("echo") and body.get("logprobs") is not None:
                    self._score(body)
                else:
                    self._complete(body)
            finally:
                self._answered()

        def _answered(self) -> None:
            """A request is in flight from its arrival until its answer starts: once the answer is
            written the client may send its next request before this thread gets the CPU back."""
            if getattr(self, "_in_flight", False):
                self._in_flight = False
                with server._lock:
                    server.in_flight -= 1

        def _complete(self, body: dict) -> None:
            reply = server.behaviour(prompt_of(body), body)
            reply = reply if isinstance(reply, Reply) else Reply(reply)
            time.sleep(reply.delay_s)
            if reply.status != 200:
                self._send(reply.status, {"error": {"message": reply.text or f"HTTP {reply.status}"}}, reply.headers)
                return
            if "messages" in body:
                choice = {"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}
                obj = "chat.completion"
            else:
                choice = {"index": 0, "text": reply.text, "logprobs": None, "finish_reason": "stop"}
                obj = "text_completion"
            self._send(200, {"id": "x", "object": obj, "created": 0, "model": body.get("model", ""), "choices": [choice],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

        def _score(self, body: dict) -> None:
            if not server.can_score:
                self._send(400, {"error": {"message": "echo with logprobs is not supported"}})
                return
            prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
            choices = []
            for i, text in enumerate(prompts):
                tokens = re.findall(r"\s*\S+", text)
                offsets = [sum(len(t) for t in tokens[:k]) for k in range(len(tokens))]
                values = [None] + [server.logprob(t) for t in tokens[1:]]  # the first token has no context
                choices.append({"index": i, "text": text, "finish_reason": "length",
                                "logprobs": {"tokens": tokens, "token_logprobs": values, "text_offset": offsets,
                                             "top_logprobs": None}})
            self._send(200, {"id": "x", "object": "text_completion", "created": 0, "model": body.get("model", ""),
                             "choices": choices})

    return Handler


# -- ready-made behaviours ---------------------------------------------------------------------------
def unit(text: str, salt: str = "") -> float:
    """A number in [0, 1) fixed by ``text``: deterministic 'randomness'."""
    return int(hashlib.sha256((salt + text).encode()).hexdigest()[:8], 16) / 16 ** 8


def echo(prompt: str, body: dict) -> str:
    return prompt


def fixed(answer: str) -> Behaviour:
    return lambda prompt, body: answer


def by_substring(table: dict[str, str], default: str = "") -> Behaviour:
    """The answer of the table key found latest in the prompt (the asked question comes last)."""
    def behaviour(prompt: str, body: dict) -> str:
        hits = [(prompt.rfind(k), v) for k, v in table.items() if k in prompt]
        return max(hits)[1] if hits else default
    return behaviour


def by_model(table: dict[str, Behaviour]) -> Behaviour:
    """Several served models on one server, by the request's ``model``."""
    return lambda prompt, body: table[body["model"]](prompt, body)


def section(prompt: str, name: str) -> str:
    """The text between ``[name]`` and ``[End of name]`` in a judge prompt."""
    match = re.search(rf"\[{re.escape(name)}\]\n(.*?)\n\[End of {re.escape(name)}\]", prompt, re.S)
    return match.group(1) if match else ""


def judgment_in_answer(prompt: str, body: dict) -> str:
    """A single-grading judge that says whatever follows 'JUDGE:' in the judged response."""
    return section(prompt, "Response").split("JUDGE:", 1)[-1].strip()


def prefers_marked(prompt: str, body: dict) -> str:
    """A fair pairwise judge: the response with more '+' characters wins; equal counts tie."""
    a, b = section(prompt, "Response A").count("+"), section(prompt, "Response B").count("+")
    return "After careful comparison: " + ("[[A]]" if a > b else "[[B]]" if b > a else "[[C]]")


class PositionBiased:
    """A pairwise judge that picks whichever response is shown first for a fraction ``p_first`` of
    prompts (chosen by a hash of the prompt), and otherwise judges fairly with ``fair``."""

    def __init__(self, p_first: float = 1.0, fair: Behaviour = prefers_marked):
        self.p_first, self.fair = p_first, fair

    def biased(self, prompt: str) -> bool:
        return unit(prompt, "bias") < self.p_first

    def __call__(self, prompt: str, body: dict) -> str:
        return "Response A is better. [[A]]" if self.biased(prompt) else self.fair(prompt, body)


def sometimes_garbage(inner: Behaviour, rate: float = 0.3) -> Behaviour:
    """``inner``, except that a fraction of prompts (by hash) get a judgment with no rating or verdict."""
    return lambda prompt, body: ("I am not sure how to judge this." if unit(prompt, "garbage") < rate
                                 else inner(prompt, body))


class Flaky:
    """Fails the first ``failures`` requests with ``status`` (optionally after a delay), then ``inner``."""

    def __init__(self, inner: Behaviour, failures: int = 2, status: int = 500, delay_s: float = 0.0):
        self.inner, self.failures, self.status, self.delay_s = inner, failures, status, delay_s
        self.seen = 0
        self._lock = threading.Lock()

    def __call__(self, prompt: str, body: dict) -> str | Reply:
        with self._lock:
            self.seen += 1
            fail = self.seen <= self.failures
        if fail:
            return Reply(f"transient failure {self.seen}", status=self.status, delay_s=self.delay_s)
        return self.inner(prompt, body)


class Gate:
    """Answers the first ``open_for`` requests with ``inner``, then holds every other request until
    :meth:`release` (to freeze a client mid-run, e.g. before killing it)."""

    def __init__(self, inner: Behaviour, open_for: int):
        self.inner, self.open_for = inner, open_for
        self.seen = 0
        self.released = threading.Event()
        self._lock = threading.Lock()

    def release(self) -> None:
        self.released.set()

    def __call__(self, prompt: str, body: dict) -> str:
        with self._lock:
            self.seen += 1
            hold = self.seen > self.open_for
        if hold:
            self.released.wait(timeout=60)
        return self.inner(prompt, body)
