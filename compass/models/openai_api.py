"""OpenAI-compatible API backend: any server speaking ``/v1/chat/completions`` or ``/v1/completions``.

Generation uses chat completions (``chat=True``, the prompt as one user turn) or plain completions,
greedy unless a request samples, with ``batch_size`` requests in flight at once. Log-likelihood
scoring needs the completions endpoint with ``echo`` and prompt ``logprobs`` (vLLM, llama.cpp's
server and the like); the log-probs are aligned with the prompt by tokens and checked on every
answer (``openai_align.py``); a server without them says so in one line.

Sending, checking, retrying and counting retries by cause is ``openai_transport.py``: a broken
answer (truncated JSON, no ``choices``, misaligned log-probs) is retried like an HTTP 5xx and never
stored. Every request of a batch runs to its own end: when some finish and others fail for good,
``PartialResults`` carries the finished ones (see ``generate`` and ``score`` for what ``done``
holds) and the failure as ``cause``: a ``TransientError``, or a ``CompassError`` for one that
would repeat (preferred when both happened); requests not yet sent by then are not sent.

The key is read from the environment variable named by ``api_key_env``; it is never stored, and
it is scrubbed from every error message.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

from compass.config import ModelConfig
from compass.errors import CompassError, PartialResults
from compass.models.base import Completion, GenerateRequest, OnDone, ScoreRequest, cut_at_stop, derive_seed
from compass.models.openai_align import continuation_logprobs, prompts_for
from compass.models.openai_transport import BadAnswer, Transport, check_server, server_message
from compass.models.tokens import chat_messages

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

MAX_SERVER_STOPS = 4  # OpenAI takes at most 4 stop strings; every stop string is also cut here
FINISHED = ("stop", "length", "content_filter", "tool_calls")  # a choice that says why it ended is an answer


class OpenAIModel:
    """The Model protocol over an OpenAI-compatible server; ``cfg.path`` is the served model's name.

    ``retries`` counts the retries of this model's requests by cause ("429", "5xx", "timeout",
    "connection", "malformed", "misaligned") over its lifetime."""

    def __init__(self, cfg: ModelConfig):
        import openai

        self.cfg = cfg
        self.transport = Transport(cfg)
        self.base = self.transport.base
        self.retries = self.transport.retries
        self.usage = self.transport.usage
        self._refused = (openai.BadRequestError, openai.UnprocessableEntityError)

    # -- generation ---------------------------------------------------------------------------
    def generate(self, requests: list[GenerateRequest], on_done: OnDone | None = None) -> list[Completion]:
        """``num_samples`` completions per request, request by request; a greedy request (or two equal
        ones) is sent once. ``on_done(i, completions)`` as request ``i``'s last sample comes back, so
        the worker keeps (and pays for) answers as they arrive, not when the whole batch is back.

        On a failure that outlasts the retries, the finished requests come back in
        ``PartialResults.done``: request index -> the list of its ``num_samples`` texts in sample
        order (a list even for one sample). A request counts as finished only when all of its
        samples are."""
        keys = [[(req, j if req.temperature > 0 else 0) for j in range(req.num_samples)] for req in requests]
        jobs = list(dict.fromkeys(key for request_keys in keys for key in request_keys))
        users: dict[tuple, list[int]] = {}
        for i, request_keys in enumerate(keys):
            for key in dict.fromkeys(request_keys):
                users.setdefault(key, []).append(i)
        texts: dict[tuple, Completion] = {}

        def arrived(k: int, completion: Completion) -> None:
            texts[jobs[k]] = completion
            if on_done is None:
                return
            for i in users[jobs[k]]:
                if all(key in texts for key in keys[i]):
                    on_done(i, [texts[key] for key in keys[i]])

        _, failure = self._run_all(lambda job: self._generate_one(*job), jobs, arrived)
        done = {i: [texts[key] for key in request_keys] for i, request_keys in enumerate(keys)
                if all(key in texts for key in request_keys)}
        if failure is None:
            return [text for i in range(len(requests)) for text in done[i]]
        raise PartialResults(done, failure) if done else failure

    def _generate_one(self, req: GenerateRequest, j: int) -> Completion:
        stop = tuple(dict.fromkeys(req.stop + tuple(self.cfg.stop)))
        params: dict = {"model": self.cfg.path, "max_tokens": req.max_out_len, "temperature": req.temperature}
        if stop:
            params["stop"] = list(stop[:MAX_SERVER_STOPS])
        if req.temperature > 0:  # sample j of a request gets its own seed, as in the HF backend
            params.update(top_p=req.top_p, seed=derive_seed(req.seed, j) % 2**31)
        params.update(self.cfg.generation_kwargs)
        if self.cfg.chat:
            params["messages"] = chat_messages(req.prompt, self.cfg.system_prompt)
            text, reason, tokens = self.transport.call("/chat/completions", params, _chat_text)
        else:
            params["prompt"] = req.prompt
            text, reason, tokens = self.transport.call("/completions", params, _completion_text)
        cut = cut_at_stop(text, stop)
        return Completion(cut, "stop" if cut != text else reason, tokens)

    # -- log-likelihood -----------------------------------------------------------------------
    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        """Summed log-probs per continuation. On a failure that outlasts the retries, the finished
        requests come back in ``PartialResults.done``: request index -> its list of scores."""
        if self.cfg.chat:
            raise self._cannot_score("chat endpoints return no prompt logprobs; this model has chat=True")
        if any(not c for req in requests for c in req.continuations):
            raise CompassError(f"{self.base}: an empty continuation has no tokens to score; check the "
                               f"inferencer's continuation template")
        done, failure = self._run_all(self._score_one, requests)
        self._flag_uniform(requests, done)
        if failure is None:
            return [done[i] for i in range(len(requests))]
        raise PartialResults(done, failure) if done else failure

    def _score_one(self, req: ScoreRequest) -> list[float]:
        """All continuations of a request in one call (see ``openai_align``)."""
        params = {"model": self.cfg.path, "prompt": prompts_for(req), "echo": True, "logprobs": 0, "max_tokens": 0,
                  "temperature": 0}
        try:
            return self.transport.call("/completions", params, lambda answer: continuation_logprobs(
                req, answer, self._cannot_score, self._misaligned))
        except CompassError as exc:
            cause = exc.__cause__
            if isinstance(cause, self._refused):
                raise self._cannot_score(f"/completions refused echo with logprobs, HTTP {cause.status_code}: "
                                         f"{server_message(cause)}") from None
            raise

    def _flag_uniform(self, requests: list[ScoreRequest], done: dict[int, list[float]]) -> None:
        """Distinct choices with equal scores, down to the last digit, are what a server scoring the
        wrong tokens (e.g. the context's) gives: worth a warning even when every check passed."""
        uniform = [i for i, scores in done.items()
                   if len(set(requests[i].continuations)) > 1 and len(set(scores)) == 1]
        if uniform:
            log.warning("%s: %d of %d requests gave every choice the same score (e.g. %r for request %d); check "
                        "that the server's prompt logprobs are the model's", self.base, len(uniform), len(done),
                        done[uniform[0]][0], uniform[0])

    def _cannot_score(self, why: str) -> CompassError:
        return CompassError(self._scrub(f"{self.base}: this server cannot score multiple choice by log-likelihood "
                                        f"({why}); use a generation dataset config (GenInferencer) for this model"))

    def _misaligned(self, why: str) -> CompassError:
        return CompassError(self._scrub(f"{self.base}: the server's prompt logprobs do not line up with the prompt "
                                        f"({why}) in every attempt; refusing scores that cannot be right"))

    def _scrub(self, text: str) -> str:
        key = self.transport.key
        return text.replace(key, "***") if len(key) >= 4 else text

    # -- concurrency --------------------------------------------------------------------------
    def _run_all(self, fn: Callable[[T], R], items: list[T], arrived: Callable[[int, R], None] | None = None
                 ) -> tuple[dict[int, R], BaseException | None]:
        """``fn`` over ``items`` with ``batch_size`` in flight: the results by index, and the failure
        (a ``CompassError`` before any other) if any; ``arrived(k, result)`` in this thread as each
        result comes. After the first failure, items not yet started are dropped: the server is
        failing, or the input is; running ones finish."""
        done: dict[int, R] = {}
        failure: BaseException | None = None
        if not items:
            return done, None
        pool = ThreadPoolExecutor(max_workers=min(self.cfg.batch_size, len(items)))
        try:
            futures = {pool.submit(fn, item): k for k, item in enumerate(items)}
            for future in as_completed(futures):
                if future.cancelled():
                    continue
                error = future.exception()
                if error is None:
                    done[futures[future]] = future.result()
                    if arrived is not None:
                        arrived(futures[future], done[futures[future]])
                    continue
                if failure is None or (isinstance(error, CompassError) and not isinstance(failure, CompassError)):
                    failure = error
                for other in futures:
                    other.cancel()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return done, failure


def _finish(choice: dict, answer: dict) -> tuple[str, int | None]:
    """The server's finish reason in our words ("stop" covers both its stop strings and EOS there),
    and the completion's token count from ``usage`` (one choice per request)."""
    reason = {"stop": "stop", "length": "length", "eos": "eos"}.get(str(choice.get("finish_reason")), "")
    usage = answer.get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return reason, tokens if isinstance(tokens, int) else None


def _completion_text(answer: dict) -> tuple[str, str, int | None]:
    choice = _first_choice(answer)
    text = choice.get("text")
    if not isinstance(text, str):
        raise BadAnswer("the first choice holds no text")
    return (text, *_finish(choice, answer))


def _chat_text(answer: dict) -> tuple[str, str, int | None]:
    choice = _first_choice(answer)
    message = choice.get("message")
    if not isinstance(message, dict):
        raise BadAnswer("the first choice holds no message")
    content = message.get("content")
    if isinstance(content, str):
        return (content, *_finish(choice, answer))
    if content is None and choice.get("finish_reason") in FINISHED:
        return ("", *_finish(choice, answer))  # e.g. a reasoning model that spent max_tokens: a real, empty answer
    raise BadAnswer("the first choice's message holds no content")


def _first_choice(answer: dict) -> dict:
    """An answer without a first choice is rejected (retried), never read as an empty text."""
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices:
        raise BadAnswer("no choices in the answer")
    choice = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
    if choice is None:
        raise BadAnswer("no choice with index 0 in the answer")
    return choice


__all__ = ["OpenAIModel", "check_server"]
