"""One request to an OpenAI-compatible server: sent, its answer checked, retried, counted.

Every attempt ends one of three ways:

- an answer that is a JSON object and passes the caller's check: returned;
- a failure that would repeat (HTTP 4xx other than 408 and 429: a bad key, a wrong route or
  model name, a refused parameter): ``CompassError`` at once;
- a failure that may pass: HTTP 429, 408 and 5xx, a timeout, a lost connection, a 200 whose body
  is not a JSON object (truncated, an HTML page) or that the check rejects (no ``choices``,
  misaligned log-probs). It is retried after a backoff (0.5 s, 1 s, 2 s, ... up to 30 s, or the
  server's ``Retry-After``), and each retry is counted in ``retries`` by cause ("429", "5xx",
  "timeout", "connection", "malformed", "misaligned") and logged.

When the last attempt fails too: ``TransientError`` (the worker exits 1 and the runner retries
the task), in one line naming the server, the endpoint and the last failure. The exception: if
*every* attempt got an answer the check marked as a lasting defect of the server (no prompt
log-probs, log-probs that never line up), that defect is raised as ``CompassError``.

The key is never stored in a message (scrubbed). ``openai`` is imported only once a transport is
built: importing it takes seconds, which the preflight check (stdlib only) should not pay.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from compass.config import ModelConfig
from compass.errors import CompassError, TransientError

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)
T = TypeVar("T")

NO_KEY = "EMPTY"  # sent when the variable is unset: the client needs some key, local servers ignore it
OPENAI_BASE = "https://api.openai.com/v1"
BACKOFF_S, MAX_BACKOFF_S = 0.5, 30.0


class BadAnswer(Exception):
    """An HTTP 200 answer that cannot be used. ``cause`` names its retry counter; ``lasting`` is the
    error to raise if every attempt gets such an answer (the server, not the network, is at fault)."""

    def __init__(self, why: str, cause: str = "malformed", lasting: CompassError | None = None):
        super().__init__(why)
        self.why, self.cause, self.lasting = why, cause, lasting


class Transport:
    def __init__(self, cfg: ModelConfig):
        import openai  # here, not at the top: see the module docstring

        self.cfg = cfg
        self.key = os.environ.get(cfg.api_key_env, "")
        self.base = base_url(cfg)
        # Retries are ours (call): checked answers, counted causes, and one line when they run out.
        self.client = openai.OpenAI(base_url=self.base, api_key=self.key or NO_KEY, timeout=cfg.api_timeout_s,
                                    max_retries=0)
        self.retries: Counter[str] = Counter()
        self.usage: Counter[str] = Counter()  # the server's own token counts (``usage``), where it reports them
        self._lock = threading.Lock()
        self._openai = openai

    def call(self, endpoint: str, params: dict, check: Callable[[dict], T]) -> T:
        """``check(answer)`` for the first usable answer of ``endpoint`` to ``params``."""
        resource = self.client.chat.completions if endpoint == "/chat/completions" else self.client.completions
        openai, attempts = self._openai, self.cfg.api_retries + 1
        lasting: list[CompassError | None] = []
        for attempt in range(1, attempts + 1):
            failure: Exception
            try:
                raw = resource.with_raw_response.create(**params)
                answer = _json_object(raw.text)
                self._count_usage(answer)  # billed even when check() rejects the answer and it is asked again
                return check(answer)
            except BadAnswer as exc:
                failure, cause = exc, exc.cause
                lasting.append(exc.lasting)
            except openai.APIStatusError as exc:
                failure, cause = exc, _status_cause(exc.status_code)
                if not cause:  # the same request would fail the same way
                    raise CompassError(describe_error(exc, self.base, endpoint, self.cfg, attempt, self.key)) from exc
                lasting.append(None)
            except openai.APITimeoutError as exc:  # before APIConnectionError: it is one
                failure, cause = exc, "timeout"
                lasting.append(None)
            except openai.APIConnectionError as exc:
                failure, cause = exc, "connection"
                lasting.append(None)
            if attempt == attempts:
                break
            delay = _backoff(failure, attempt - 1)
            with self._lock:
                self.retries[cause] += 1
            log.warning("%s", _scrub(f"{self.base}: {self._what(failure, endpoint)}; retry {attempt} of "
                                     f"{attempts - 1} in {delay:.1f} s", self.key))
            time.sleep(delay)
        if all(lasting) and lasting[-1] is not None:
            raise lasting[-1]
        raise TransientError(self._describe(failure, endpoint, attempts)) from failure

    def _count_usage(self, answer: dict) -> None:
        usage = answer.get("usage")
        if isinstance(usage, dict):
            details = usage.get("completion_tokens_details")
            reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
            with self._lock:
                for key in ("prompt_tokens", "completion_tokens"):
                    if isinstance(usage.get(key), int):
                        self.usage[key] += usage[key]
                if isinstance(reasoning, int):  # reasoning models: hidden thinking, billed as completion tokens
                    self.usage["reasoning_tokens"] += reasoning

    def _what(self, failure: Exception, endpoint: str) -> str:
        if isinstance(failure, BadAnswer):
            return f"unusable answer from {endpoint} ({failure.cause}: {failure.why})"
        if isinstance(failure, self._openai.APIStatusError):
            return f"HTTP {failure.status_code} from {endpoint}"
        if isinstance(failure, self._openai.APITimeoutError):
            return f"no answer from {endpoint} within {self.cfg.api_timeout_s:g} s"
        return f"connection lost ({_first_line(failure.__cause__) or _first_line(failure)})"

    def _describe(self, failure: Exception, endpoint: str, attempts: int) -> str:
        if isinstance(failure, BadAnswer):
            tries = f" after {attempts} attempt(s)" if attempts > 1 else ""
            return _scrub(f"{self.base}: unusable answers from {endpoint}{tries}: {failure.why}", self.key)
        return describe_error(failure, self.base, endpoint, self.cfg, attempts, self.key)


def _json_object(text: str) -> dict:
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadAnswer(f"the body is not valid JSON ({exc.msg} at character {exc.pos} of {len(text)})") from None
    if not isinstance(answer, dict):
        raise BadAnswer(f"the body is a JSON {type(answer).__name__}, not an object")
    if "error" in answer and "choices" not in answer:  # some servers and proxies report errors with 200
        raise BadAnswer(f"the body is an error: {_first_line(answer['error'])}")
    return answer


def _status_cause(status: int) -> str:
    """The retry counter of a retryable HTTP status; "" for the ones that would fail the same way."""
    if status == 429:
        return "429"
    if status == 408:
        return "timeout"
    return "5xx" if status >= 500 else ""


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
        hint = "; chat=False uses /completions: set chat=True for a chat-only server" \
            if endpoint == "/completions" else ""
        line = (f"{base}: HTTP 404 from {endpoint} (wrong api_base, or no model {cfg.path!r} served there{hint}): "
                f"{server_message(exc)}")
    elif isinstance(exc, openai.APIStatusError):
        line = f"{base}: HTTP {exc.status_code} from {endpoint}{tries}: {server_message(exc)}"
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
    """The server's ``Retry-After`` in seconds where it gives one, else exponential; capped."""
    response = getattr(exc, "response", None)
    after = response.headers.get("retry-after") if response is not None else None
    try:
        if after is not None:
            return min(max(float(after), 0.0), MAX_BACKOFF_S)
    except ValueError:  # an HTTP date: not worth parsing for a backoff
        pass
    return min(BACKOFF_S * 2 ** attempt, MAX_BACKOFF_S)


def server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        body = body.get("message") or body.get("error") or body
    return _first_line(body if isinstance(body, str) else exc.message)


def _first_line(value: object) -> str:
    text = str(value).strip() if value is not None else ""
    return text.splitlines()[0][:200] if text else ""
