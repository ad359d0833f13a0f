"""OpenAI-compatible API backend: any server speaking ``/v1/chat/completions`` or ``/v1/completions``.

Generation uses chat completions (``chat=True``, the prompt as one user turn) or plain completions,
greedy unless a request samples, with ``batch_size`` requests in flight at once. Log-likelihood
scoring needs the completions endpoint with ``echo`` and prompt ``logprobs`` (vLLM, llama.cpp's
server and the like); a server without them says so in one line. HTTP 429 and 5xx, timeouts and
dropped connections are retried with exponential backoff (or the server's ``Retry-After``).

The key is read from the environment variable named by ``api_key_env``; it is never stored, and
it is scrubbed from every error message. ``openai`` is imported only where a request is made:
importing it takes seconds, which the preflight check (stdlib only) should not pay.
"""
from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, TypeVar

from compass.config import ModelConfig
from compass.errors import CompassError
from compass.models.base import GenerateRequest, ScoreRequest, cut_at_stop, derive_seed

if TYPE_CHECKING:
    import openai

T = TypeVar("T")
R = TypeVar("R")

NO_KEY = "EMPTY"  # sent when the variable is unset: the client needs some key, local servers ignore it
OPENAI_BASE = "https://api.openai.com/v1"
MAX_SERVER_STOPS = 4  # OpenAI takes at most 4 stop strings; every stop string is also cut here
BACKOFF_S, MAX_BACKOFF_S = 0.5, 30.0


class OpenAIModel:
    """The Model protocol over an OpenAI-compatible server; ``cfg.path`` is the served model's name."""

    def __init__(self, cfg: ModelConfig):
        import openai  # here, not at the top: see the module docstring

        self.cfg = cfg
        self._key = os.environ.get(cfg.api_key_env, "")
        self.base = base_url(cfg)
        # Retries are ours (_call): counted, bounded by api_retries, and named in the final error.
        self.client = openai.OpenAI(base_url=self.base, api_key=self._key or NO_KEY, timeout=cfg.api_timeout_s,
                                    max_retries=0)
        self._retryable = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)
        self._refused = (openai.BadRequestError, openai.NotFoundError, openai.UnprocessableEntityError)
        self._status_error = openai.APIStatusError

    # -- generation ---------------------------------------------------------------------------
    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        """``num_samples`` completions per request, request by request; a greedy request (or two equal
        ones) is sent once."""
        jobs = list(dict.fromkeys((req, j) for req in requests
                                  for j in range(req.num_samples if req.temperature > 0 else 1)))
        texts = dict(zip(jobs, self._map(lambda job: self._generate_one(*job), jobs)))
        return [texts[(req, j if req.temperature > 0 else 0)] for req in requests for j in range(req.num_samples)]

    def _generate_one(self, req: GenerateRequest, j: int) -> str:
        stop = tuple(dict.fromkeys(req.stop + tuple(self.cfg.stop)))
        params: dict = {"model": self.cfg.path, "max_tokens": req.max_out_len, "temperature": req.temperature}
        if stop:
            params["stop"] = list(stop[:MAX_SERVER_STOPS])
        if req.temperature > 0:  # sample j of a request gets its own seed, as in the HF backend
            params.update(top_p=req.top_p, seed=derive_seed(req.seed, j) % 2**31)
        params.update(self.cfg.generation_kwargs)
        if self.cfg.chat:
            resp = self._call("/chat/completions", lambda: self.client.chat.completions.create(
                messages=[{"role": "user", "content": req.prompt}], **params))
            text = resp.choices[0].message.content if resp.choices else None
        else:
            resp = self._call("/completions", lambda: self.client.completions.create(prompt=req.prompt, **params))
            text = resp.choices[0].text if resp.choices else None
        return cut_at_stop(text or "", stop)

    # -- log-likelihood -----------------------------------------------------------------------
    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        if self.cfg.chat:
            raise self._cannot_score("chat endpoints return no prompt logprobs; this model has chat=True")
        return self._map(self._score_one, requests)

    def _score_one(self, req: ScoreRequest) -> list[float]:
        """All continuations of a request in one call: each text echoed with its token logprobs,
        summed over the tokens that overlap the continuation."""
        texts = [req.context + c for c in req.continuations]
        try:
            resp = self._call("/completions", lambda: self.client.completions.create(
                model=self.cfg.path, prompt=texts, echo=True, logprobs=0, max_tokens=0, temperature=0))
        except CompassError as exc:
            cause = exc.__cause__
            if isinstance(cause, self._refused):
                raise self._cannot_score(f"/completions refused echo with logprobs, HTTP {cause.status_code}: "
                                         f"{_server_message(cause)}") from None
            raise
        choices = sorted(resp.choices or [], key=lambda c: c.index)
        if len(choices) != len(texts):
            raise self._cannot_score(f"{len(texts)} prompts sent, {len(choices)} echoed back")
        scores = []
        for text, choice in zip(texts, choices):
            lp = choice.logprobs
            if lp is None or not lp.text_offset or not lp.token_logprobs:
                raise self._cannot_score("the completions endpoint returned no prompt logprobs")
            # Token i spans [offset_i, offset_i+1); keep the tokens overlapping the continuation.
            ends = list(lp.text_offset[1:]) + [len(text) + 1]
            picked = [v for start, end, v in zip(lp.text_offset, ends, lp.token_logprobs)
                      if start < len(text) and end > len(req.context)]
            if not picked or any(v is None for v in picked):
                raise self._cannot_score("no logprobs for the continuation's tokens")
            scores.append(float(sum(picked)))
        return scores

    def _cannot_score(self, why: str) -> CompassError:
        return CompassError(_scrub(f"{self.base}: this server cannot score multiple choice by log-likelihood ({why}); "
                                   f"use a generation dataset config (GenInferencer) for this model", self._key))

    # -- transport ----------------------------------------------------------------------------
    def _map(self, fn: Callable[[T], R], items: list[T]) -> list[R]:
        """``fn`` over ``items`` with ``batch_size`` in flight, in order; the first error cancels the rest."""
        if len(items) <= 1:
            return [fn(x) for x in items]
        pool = ThreadPoolExecutor(max_workers=min(self.cfg.batch_size, len(items)))
        try:
            return list(pool.map(fn, items))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _call(self, endpoint: str, send: Callable[[], R]) -> R:
        attempts = self.cfg.api_retries + 1
        for attempt in range(attempts):
            try:
                return send()
            except self._retryable as exc:  # 429, 5xx, timeouts, lost connections
                if attempt + 1 == attempts:
                    raise self._error(exc, endpoint, attempts) from exc
                time.sleep(_backoff(exc, attempt))
            except self._status_error as exc:  # other 4xx: the same request would fail the same way
                raise self._error(exc, endpoint, attempt + 1) from exc
        raise AssertionError("unreachable")

    def _error(self, exc: Exception, endpoint: str, attempts: int) -> CompassError:
        return CompassError(describe_error(exc, self.base, endpoint, self.cfg, attempts, self._key))


def base_url(cfg: ModelConfig) -> str:
    """The server's URL: ``api_base``, else $OPENAI_BASE_URL (as the openai client reads it), else OpenAI's."""
    return (cfg.api_base or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE).rstrip("/")


def describe_error(exc: Exception, base: str, endpoint: str, cfg: ModelConfig, attempts: int, key: str) -> str:
    """One line naming the server and what to check; never the key."""
    import openai

    tries = f" after {attempts} attempt(s)" if attempts > 1 else ""
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        line = _auth_failed(base, exc.status_code, cfg, key)
    elif isinstance(exc, openai.APITimeoutError):
        line = f"{base}: no answer from {endpoint} within {cfg.api_timeout_s:g} s{tries}"
    elif isinstance(exc, openai.APIConnectionError):
        line = _unreachable(base, _first_line(exc.__cause__) or _first_line(exc), tries)
    elif isinstance(exc, openai.NotFoundError):
        hint = "; chat=False uses /completions: set chat=True for a chat-only server" if endpoint == "/completions" else ""
        line = (f"{base}: HTTP 404 from {endpoint} (wrong api_base, or no model {cfg.path!r} served there{hint}): "
                f"{_server_message(exc)}")
    elif isinstance(exc, openai.APIStatusError):
        line = f"{base}: HTTP {exc.status_code} from {endpoint}{tries}: {_server_message(exc)}"
    else:
        line = f"{base}: {type(exc).__name__}: {_first_line(exc)}"
    return _scrub(line, key)


def _scrub(text: str, key: str) -> str:
    """``text`` without the key, should a server have echoed it back."""
    return text.replace(key, "***") if len(key) >= 4 else text


def check_server(cfg: ModelConfig, where: str) -> None:
    """Before any worker starts: the server answers and accepts the key. Any other HTTP status is
    fine (some servers have no ``/models`` route)."""
    base, key = base_url(cfg), os.environ.get(cfg.api_key_env, "")
    request = urllib.request.Request(f"{base}/models", headers={"Authorization": f"Bearer {key or NO_KEY}"})
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise CompassError(f"{where}: {_auth_failed(base, exc.code, cfg, key)}") from None
    except (urllib.error.URLError, OSError) as exc:  # refused, unknown host, timed out
        raise CompassError(f"{where}: {_unreachable(base, _first_line(getattr(exc, 'reason', exc)), '')}") from None


def _auth_failed(base: str, status: int, cfg: ModelConfig, key: str) -> str:
    hint = f"${cfg.api_key_env} is not set" if not key else f"check the key in ${cfg.api_key_env}"
    return f"{base}: authentication failed (HTTP {status}): {hint}"


def _unreachable(base: str, reason: str, tries: str) -> str:
    return f"{base}: cannot reach the server{tries} ({reason}); is it running, and is api_base right?"


def _backoff(exc: Exception, attempt: int) -> float:
    response = getattr(exc, "response", None)
    after = response.headers.get("retry-after") if response is not None else None
    try:
        return min(max(float(after), 0.0), MAX_BACKOFF_S)
    except (TypeError, ValueError):
        return min(BACKOFF_S * 2 ** attempt, MAX_BACKOFF_S)


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        body = body.get("message") or body.get("error") or body
    return _first_line(body if isinstance(body, str) else exc.message)


def _first_line(value: object) -> str:
    text = str(value).strip() if value is not None else ""
    return text.splitlines()[0][:200] if text else ""
