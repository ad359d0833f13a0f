"""An OpenAI-compatible server that answers the way vLLM's (``vllm serve``) does, backed by a real
transformers model: real sockets on 127.0.0.1, for tests.

    with VLLMLikeServer("examples/assets/reference-demo", name="reference-demo") as server:
        server.url        # "http://127.0.0.1:<port>/v1", for api_base
        server.count()    # completion requests answered

What it copies from vLLM, read in vLLM's source (vllm/entrypoints/openai/completion/serving.py:
``request_output_to_completion_response`` and ``_create_completion_logprobs``; the prompt
log-prob tokens from ``convert_ids_list_to_tokens`` in vllm/tokenizers/detokenizer_utils.py; the
prompt handling from ``_normalize_prompt_text_to_input`` / ``_normalize_prompt_tokens_to_input``):

- A text prompt is tokenised with the tokenizer's special tokens (so BOS comes first for this
  model); a prompt given as token ids is used as is, and its echoed text is ``decode(ids)``,
  special tokens included. ``prompt`` may be one or a list of either.
- ``echo`` with ``max_tokens=0`` answers the prompt alone: the choice's ``text`` is the prompt
  text and ``logprobs`` covers the prompt's tokens. Each token string is ``decode([id])`` of that
  token alone (a character split over several byte tokens shows up as U+FFFD pieces); the first
  prompt token has no log-prob (``None``) and is decoded the same way, so the BOS appears as
  ``"<|endoftext|>"``. ``text_offset[i]`` is the summed length of ``tokens[:i]`` from 0, so every
  offset counts those 13 BOS characters, which the prompt text does not hold. That is exactly
  what made a client reading offsets as prompt positions score the wrong tokens.
- ``top_logprobs[i]`` holds the actual token first, then the ``logprobs`` most likely ones
  (at most ``logprobs + 1`` entries); every log-prob is clamped at -9999.0 as vLLM clamps -inf.
- Choices are numbered in prompt order. Generation is greedy at temperature 0 (seeded sampling
  otherwise); it stops at an EOS token or once the detokenised output holds a stop string, the
  text cut before it (``finish_reason`` "stop"), else after ``max_tokens`` ("length").
  A prompt plus ``max_tokens`` over ``max_model_len`` is refused with HTTP 400, as vLLM does.
- ``/v1/chat/completions`` renders the tokenizer's chat template with the generation prompt and
  tokenises it without adding special tokens.

``max_model_len`` defaults to 1024 although the demo model's config says 256: the demo's 5-shot
prompts are longer, and the transformers backend runs them with ``max_seq_len=1024``; a real vLLM
serves them when started with ``--max-model-len 1024`` and VLLM_ALLOW_LONG_MAX_MODEL_LEN=1.
The model runs one request at a time, in float32 on the CPU. A request whose client has gone by
the time its turn comes is dropped unanswered, as vLLM aborts the requests of disconnected
clients: timed-out attempts must not pile up ahead of their own retries.
"""
from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from fault_proxy import client_gone

CLAMP = -9999.0


class Engine:
    """The served model: prompt log-probs and greedy (or seeded) generation, one call at a time."""

    def __init__(self, path: str):
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        eos = self.model.generation_config.eos_token_id
        self.eos = set([eos] if isinstance(eos, int) else list(eos or [])) | {self.tokenizer.eos_token_id}
        self.lock = threading.Lock()

    def token_text(self, token_id: int) -> str:
        return self.decode([token_id])

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens))

    @torch.no_grad()
    def prompt_logprobs(self, prompts: list[list[int]], top: int) -> list[list[dict[int, float] | None]]:
        """Per prompt, per position: None for the first, else {actual token: lp, then the ``top`` best}.
        The prompts' shared token prefix runs once and its cache serves every prompt, as vLLM's
        prefix caching does (the values agree with one plain forward each up to float noise)."""
        shared = min(len(p) for p in prompts)
        for p in prompts[1:]:
            shared = next((i for i, (a, b) in enumerate(zip(prompts[0][:shared], p)) if a != b), shared)
        with self.lock:
            base = self.model(torch.tensor([prompts[0][:shared]]), use_cache=True) if shared else None
            rows = []
            for ids in prompts:
                if base is None:
                    logits = self.model(torch.tensor([ids])).logits[0]
                elif len(ids) == shared:
                    logits = base.logits[0]
                else:
                    rest = self.model(torch.tensor([ids[shared:]]), cache=copy.deepcopy(base.cache), use_cache=True)
                    logits = torch.cat([base.logits[0], rest.logits[0]])
                rows.append(logits.float().log_softmax(-1))
        return [_steps(ids, logp, top) for ids, logp in zip(prompts, rows)]

    @torch.no_grad()
    def generate(self, ids: list[int], max_tokens: int, stop: list[str], temperature: float, top_p: float,
                 seed: int | None) -> tuple[list[int], str, str]:
        """(new token ids, text cut before any stop string, finish_reason)."""
        if max_tokens == 0:
            return [], "", "length"
        generator = torch.Generator().manual_seed(seed if seed is not None else 0)
        new: list[int] = []
        with self.lock:
            out = self.model(torch.tensor([ids]), use_cache=True)
            for _ in range(max_tokens):
                scores = out.logits[0, -1].float()
                token = int(scores.argmax()) if temperature == 0 else _sample(scores, temperature, top_p, generator)
                if token in self.eos:
                    return new, self.decode(new, skip_special_tokens=True), "stop"
                new.append(token)
                text = self.decode(new, skip_special_tokens=True)
                hits = [text.find(s) for s in stop if s and s in text]
                if hits:
                    return new, text[:min(hits)], "stop"
                out = self.model(torch.tensor([[token]]), cache=out.cache, use_cache=True)
        return new, self.decode(new, skip_special_tokens=True), "length"


def _steps(ids: list[int], logp: torch.Tensor, top: int) -> list[dict[int, float] | None]:
    out: list[dict[int, float] | None] = [None]
    for i in range(1, len(ids)):
        row = logp[i - 1]
        entry = {ids[i]: max(float(row[ids[i]]), CLAMP)}
        if top > 0:
            values, best = row.topk(top)
            for v, t in zip(values.tolist(), best.tolist()):
                entry.setdefault(t, max(v, CLAMP))
        out.append(entry)
    return out


def _sample(scores: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> int:
    probs = (scores / temperature).softmax(-1)
    ranked, order = probs.sort(descending=True)
    keep = ranked.cumsum(-1) - ranked < top_p
    ranked = ranked * keep
    return int(order[torch.multinomial(ranked / ranked.sum(), 1, generator=generator)])


class VLLMLikeServer:
    def __init__(self, model_path: str, name: str = "reference-demo", max_model_len: int = 1024,
                 key: str | None = None):
        self.engine = Engine(model_path)
        self.name, self.max_model_len, self.key = name, max_model_len, key
        self.requests: list[dict] = []
        self.abandoned = 0  # requests whose client had left before their turn came
        self._lock, self._turn = threading.Lock(), threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def __enter__(self) -> Self:
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- the two endpoints, as plain functions of the request body ----------------------------------
    def completions(self, body: dict) -> tuple[int, dict]:
        prompts = body.get("prompt")
        if isinstance(prompts, str) or (isinstance(prompts, list) and prompts and isinstance(prompts[0], int)):
            prompts = [prompts]
        if not isinstance(prompts, list) or not prompts:
            return _error(400, "prompt must be a string, a list of strings, or token ids")
        if body.get("n", 1) != 1:
            return _error(400, "this test server answers n=1 only")
        tok, engine, echo = self.engine.tokenizer, self.engine, bool(body.get("echo"))
        # A text prompt: its tokens, BOS first; token ids: as given, echoed as their decoded text.
        inputs = [(tok(p)["input_ids"], p) if isinstance(p, str) else (list(p), engine.decode(list(p)))
                  for p in prompts]
        outputs = []
        for ids, _ in inputs:
            status, params = self._sampling(body, len(ids))
            if status != 200:
                return status, params
            outputs.append(engine.generate(ids, **params))
        k = -1 if body.get("logprobs") is None else int(body["logprobs"])
        steps: list = engine.prompt_logprobs([ids + new for (ids, _), (new, _, _) in zip(inputs, outputs)], k) \
            if k >= 0 else [None] * len(inputs)
        choices: list[dict] = []
        for (ids, text), (new, out_text, finish), step in zip(inputs, outputs, steps):
            logprobs = None
            if step is not None:  # echo: the prompt's tokens too; else the new tokens only
                shown = ids + new if echo else new
                logprobs = _openai_logprobs(shown, step[len(ids + new) - len(shown):], k, engine.token_text)
            choices.append({"index": len(choices), "text": (str(text) if echo else "") + out_text, "logprobs": logprobs,
                            "finish_reason": finish, "stop_reason": None, "prompt_logprobs": None})
        prompt_tokens, new_tokens = sum(len(ids) for ids, _ in inputs), sum(len(o[0]) for o in outputs)
        return 200, {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
                     "model": self.name, "choices": choices, "usage": _usage(prompt_tokens, new_tokens)}

    def chat(self, body: dict) -> tuple[int, dict]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "messages must be a non-empty list")
        tok = self.engine.tokenizer
        rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tok(rendered, add_special_tokens=False)["input_ids"]
        status, params = self._sampling(body, len(ids))
        if status != 200:
            return status, params
        new, text, finish = self.engine.generate(ids, **params)
        choice = {"index": 0, "message": {"role": "assistant", "content": text, "tool_calls": []},
                  "logprobs": None, "finish_reason": finish, "stop_reason": None}
        return 200, {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                     "model": self.name, "choices": [choice], "usage": _usage(len(ids), len(new))}

    def _sampling(self, body: dict, prompt_len: int) -> tuple[int, dict]:
        max_tokens = body.get("max_tokens")
        max_tokens = self.max_model_len - prompt_len if max_tokens is None else int(max_tokens)
        if prompt_len + max_tokens > self.max_model_len:
            return _error(400, f"This model's maximum context length is {self.max_model_len} tokens. However, you "
                               f"requested {prompt_len + max_tokens} tokens ({prompt_len} in the messages, "
                               f"{max_tokens} in the completion). Please reduce the length of the messages or "
                               f"completion.")
        stop = body.get("stop") or []
        return 200, {"max_tokens": max_tokens, "stop": [stop] if isinstance(stop, str) else list(stop),
                         "temperature": 1.0 if body.get("temperature") is None else float(body["temperature"]),
                         "top_p": 1.0 if body.get("top_p") is None else float(body["top_p"]),
                         "seed": body.get("seed")}


def _openai_logprobs(ids: list[int], steps: list, k: int, token_text) -> dict:
    """vLLM's ``_create_completion_logprobs``: offsets are running sums of the token strings' lengths."""
    tokens: list[str] = []
    values: list[float | None] = []
    tops: list[dict | None] = []
    offsets: list[int] = []
    for token_id, step in zip(ids, steps):
        text = token_text(token_id)
        offsets.append(offsets[-1] + len(tokens[-1]) if tokens else 0)
        tokens.append(text)
        if step is None:
            values.append(None)
            tops.append(None)
        else:
            values.append(step[token_id])
            tops.append({token_text(t): v for i, (t, v) in enumerate(step.items()) if i <= k})
    return {"text_offset": offsets, "token_logprobs": values, "tokens": tokens, "top_logprobs": tops}


def _usage(prompt: int, new: int) -> dict:
    return {"prompt_tokens": prompt, "total_tokens": prompt + new, "completion_tokens": new,
            "prompt_tokens_details": None}


def _error(status: int, message: str) -> tuple[int, dict]:
    kind = {400: "BadRequestError", 404: "NotFoundError"}.get(status, "InternalServerError")
    return status, {"error": {"message": message, "type": kind, "param": None, "code": status}}


def _handler(server: VLLMLikeServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn serves it

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, obj: dict) -> None:
            data = json.dumps(obj).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up meanwhile
                pass

        def _authorised(self) -> bool:
            if server.key is None or self.headers.get("Authorization") == f"Bearer {server.key}":
                return True
            self._send(401, {"error": "Unauthorized"})
            return False

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": server.name, "object": "model", "owned_by": "vllm",
                         "max_model_len": server.max_model_len}
                self._send(200, {"object": "list", "data": [model]})
            else:
                self._send(*_error(404, "Not Found"))

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not self._authorised():
                return
            routes = {"/v1/completions": server.completions, "/v1/chat/completions": server.chat}
            if self.path not in routes:
                self._send(*_error(404, "Not Found"))
                return
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError as exc:
                self._send(*_error(400, f"invalid JSON: {exc}"))
                return
            if body.get("model") != server.name:
                self._send(*_error(404, f"The model `{body.get('model')}` does not exist."))
                return
            with server._turn:  # one request at a time, as one engine serves them
                if client_gone(self.connection):  # vLLM aborts the requests of clients that left
                    server.abandoned += 1
                    self.close_connection = True
                    return
                with server._lock:
                    server.requests.append(body)
                answer = routes[self.path](body)
            self._send(*answer)

    return Handler
