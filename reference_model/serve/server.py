"""The OpenAI-compatible HTTP API (Starlette) over the continuous-batching engine.

Routes: ``GET /health``, ``GET /metrics`` (Prometheus), ``GET /v1/models``,
``POST /v1/completions`` and ``POST /v1/chat/completions`` (both with SSE streaming). Every error
is an OpenAI-shaped JSON body: 400 for a malformed or unsupported request, 401 for a wrong key,
404 for an unknown route or model, 429 with ``Retry-After`` when the waiting queue is full, 500 if
the engine fails a request. A client that disconnects has its sequences aborted (their cache
blocks freed) whether it streams or not.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .loading import Served
from .protocol import APIError, ChatRequest, CompletionRequest, Sampling, bad, parse_chat, parse_completion
from .responses import (
    Choice,
    TokenText,
    chat_body,
    chat_chunk,
    chat_logprobs,
    completion_body,
    completion_chunk,
    completion_logprobs,
    usage_chunk,
)
from .sampler import MAX_LOGPROBS
from .sequence import SamplingParams, TokenLogprob
from .submission import EventStream, Submission, unless_disconnected

logger = logging.getLogger(__name__)
MAX_BODY = 16 << 20


class API:
    def __init__(self, served: Served, api_key: str | None = None, retry_after_s: int = 1):
        self.served, self.api_key, self.retry_after_s = served, api_key, retry_after_s
        self.engine = served.engine
        self.names = TokenText(served.chat.tok)
        self.max_len = served.engine.cfg.max_model_len

    # -- plumbing --------------------------------------------------------------------------------
    def _auth(self, request: Request) -> None:
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            raise APIError(401, "Incorrect API key provided.", "invalid_request_error", code="invalid_api_key")

    async def _body(self, request: Request) -> object:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise APIError(413, f"request body over {MAX_BODY} bytes")
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise bad(f"the body is not valid JSON ({e})") from None

    def _model(self, name: str) -> None:
        if name != self.served.name:
            raise APIError(404, f"The model `{name}` does not exist.", "invalid_request_error", "model", "model_not_found")

    def _room(self, n_seqs: int) -> None:
        if self.engine.num_waiting() + n_seqs > self.engine.cfg.max_waiting:
            self.engine.metrics.counters["requests_rejected_total"] += 1
            raise APIError(429, "The server is busy: its waiting queue is full. Retry later.", "rate_limit_exceeded",
                           code="rate_limit_exceeded", headers={"Retry-After": str(self.retry_after_s)})

    def _max_tokens(self, sampling: Sampling, prompt_len: int) -> int:
        limit = self.max_len - prompt_len
        wanted = limit if sampling.max_tokens is None else sampling.max_tokens
        if limit <= 0 or wanted > limit:
            raise bad(f"This model's maximum context length is {self.max_len} tokens. However, you requested "
                      f"{prompt_len + wanted} tokens ({prompt_len} in the prompt, {wanted} in the completion). "
                      f"Please reduce the length of the prompt or completion.", "max_tokens",
                      "context_length_exceeded")
        return wanted

    def _params(self, sampling: Sampling, max_tokens: int, j: int, logprobs: int | None, prompt_logprobs: bool
                ) -> SamplingParams:
        seed = None if sampling.seed is None else sampling.seed + j  # sample j of n draws from its own seed
        return SamplingParams(max_tokens=max_tokens, temperature=sampling.temperature, top_p=sampling.top_p, seed=seed,
                              stop=sampling.stop, logprobs=logprobs, prompt_logprobs=MAX_LOGPROBS if prompt_logprobs else None)

    def _submit(self, choices: list[Choice], params: list[SamplingParams]) -> Submission:
        self._room(len(choices))
        sub = Submission(self.engine, choices)
        sub.submit(params, min_shared=self.engine.cfg.block_size)
        return sub

    # -- routes ----------------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics(self, request: Request) -> Response:
        return PlainTextResponse(self.engine.metrics.render(), media_type="text/plain; version=0.0.4")

    async def models(self, request: Request) -> Response:
        self._auth(request)
        card = {"id": self.served.name, "object": "model", "created": self.served.created, "owned_by": "refmodel",
                "root": str(self.served.source), "max_model_len": self.max_len}
        return JSONResponse({"object": "list", "data": [card]})

    async def completions(self, request: Request) -> Response:
        self._auth(request)
        req: CompletionRequest = parse_completion(await self._body(request))
        self._model(req.model)
        choices, params = [], []
        for i, prompt in enumerate(req.prompts):
            if isinstance(prompt, str):
                ids, text = self.served.chat.encode_text(prompt, add_special_tokens=True), prompt
            else:
                if not all(0 <= t < self.served.vocab_size for t in prompt):
                    raise bad(f"prompt {i}: token ids must be in [0, {self.served.vocab_size})", "prompt")
                ids, text = list(prompt), self.served.chat.tok.decode(prompt, skip_special_tokens=False)
            max_tokens = self._max_tokens(req.sampling, len(ids))
            for j in range(req.sampling.n):
                choices.append(Choice(i * req.sampling.n + j, ids, text))
                params.append(self._params(req.sampling, max_tokens, j, req.logprobs,
                                           req.echo and req.logprobs is not None))
        sub = self._submit(choices, params)
        if req.sampling.stream:
            return EventStream(self._completion_events(req, sub), sub.abort)  # type: ignore[return-value]
        done = await unless_disconnected(request.receive, sub.wait_all(), sub.abort)
        if done is None:
            return Response(status_code=499)  # nobody is listening
        return JSONResponse(completion_body(req.model, done, self.names, req.logprobs, req.echo))

    async def _completion_events(self, req: CompletionRequest, sub: Submission) -> AsyncIterator[dict]:
        rid, created, k = f"cmpl-{uuid.uuid4().hex}", int(time.time()), req.logprobs
        started: set[int] = set()
        async for c, out in sub.outputs():
            text = out.text
            entries: list[tuple[int, TokenLogprob | None]] = [(e.token, e) for e in out.logprobs]
            if c.index not in started:
                started.add(c.index)
                if req.echo:
                    text = c.prompt_text + text
                    if c.prompt_logprobs is not None:
                        entries = list(zip(c.prompt_ids, c.prompt_logprobs)) + entries
            if text or entries or out.finished:
                logprobs = completion_logprobs(self.names, entries, k) if k is not None else None
                yield completion_chunk(rid, req.model, created, c.index, text, logprobs,
                                       c.finish_reason if out.finished else None)
        if req.sampling.include_usage:
            yield usage_chunk(rid, "text_completion", req.model, created, list(sub.choices.values()))

    async def chat(self, request: Request) -> Response:
        self._auth(request)
        req: ChatRequest = parse_chat(await self._body(request))
        self._model(req.model)
        ids = self.served.chat.encode_chat(req.messages, add_generation_prompt=True)
        max_tokens = self._max_tokens(req.sampling, len(ids))
        n = req.sampling.n
        choices = [Choice(j, ids, "") for j in range(n)]
        params = [self._params(req.sampling, max_tokens, j, req.top_logprobs if req.logprobs else None, False)
                  for j in range(n)]
        sub = self._submit(choices, params)
        if req.sampling.stream:
            return EventStream(self._chat_events(req, sub), sub.abort)  # type: ignore[return-value]
        done = await unless_disconnected(request.receive, sub.wait_all(), sub.abort)
        if done is None:
            return Response(status_code=499)
        return JSONResponse(chat_body(req.model, done, self.names, req.logprobs, req.top_logprobs))

    async def _chat_events(self, req: ChatRequest, sub: Submission) -> AsyncIterator[dict]:
        rid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        for index in sub.choices:
            yield chat_chunk(rid, req.model, created, index, {"role": "assistant", "content": ""}, None, None)
        async for c, out in sub.outputs():
            if out.text or out.finished:
                logprobs = chat_logprobs(self.names, out.logprobs, req.top_logprobs) if req.logprobs else None
                delta = {"content": out.text} if out.text else {}
                yield chat_chunk(rid, req.model, created, c.index, delta, logprobs,
                                 c.finish_reason if out.finished else None)
        if req.sampling.include_usage:
            yield usage_chunk(rid, "chat.completion.chunk", req.model, created, list(sub.choices.values()))


def _error_response(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status_code=status)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    return _error_response(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}", kind)


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_response(500, "internal server error", "server_error")


def build_app(served: Served, api_key: str | None = None) -> Starlette:
    api = API(served, api_key)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        served.engine.start()
        logger.info("serving %s from %s", served.name, served.source)
        yield
        served.engine.stop()  # after uvicorn has let in-flight requests finish
        logger.info("engine stopped")

    routes = [Route("/health", api.health), Route("/metrics", api.metrics), Route("/v1/models", api.models),
              Route("/v1/completions", api.completions, methods=["POST"]),
              Route("/v1/chat/completions", api.chat, methods=["POST"])]
    handlers = {APIError: _api_error, HTTPException: _http_error, Exception: _internal_error}
    return Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
