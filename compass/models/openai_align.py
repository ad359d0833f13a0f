"""Continuation log-probs out of an echoed ``/completions`` answer, aligned by tokens.

One request holds the context alone, then the context followed by each continuation, all with
``echo=True, logprobs=0, max_tokens=0``. The server's ``tokens`` for the context alone are the
context's tokens; in each other prompt, the tokens after them are the continuation's, and their
``token_logprobs`` are summed. No character offset is read: servers count ``text_offset``
differently (vLLM counts the decoded BOS text, ``"<|endoftext|>"`` or ``"<s>"``, which the
prompt does not hold), and a client that trusts them scores the wrong tokens without a sound.

When the context's last token merges with a continuation's first (a context ending in a space
before a continuation that starts with a letter), the merged token belongs to the continuation,
and every continuation of that question is scored from the context's last token on: each score
then covers the same bit of context text, so the choices stay comparable. The transformers
backend scores the continuation tokenised alone in that case; the two agree whenever the
context's tokens are a prefix of the whole prompt's, as with the usual "Answer:" + " A" templates.

Every answer is checked before anything is summed; an answer that fails is rejected (retried,
counted as "misaligned", and refused if every attempt fails that way):

1. one choice per prompt, each index once, each with as many ``tokens`` as ``token_logprobs``;
2. an echoed ``text``, where the server gives one, starts with its prompt;
3. the context's tokens open every other prompt's tokens, bar the last one (the merge above),
   whose text then opens the merged token's;
4. each continuation has at least one token, and their text ends with the continuation's
   (whitespace and tokenizer space marks ignored; not checked where tokens are not plain text:
   U+FFFD pieces of a split character, ``token_id:N`` placeholders, non-ASCII continuations);
5. each continuation log-prob is a number, finite, and at most 0.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable

from compass.errors import CompassError
from compass.models.base import ScoreRequest
from compass.models.openai_transport import BadAnswer

Refusal = Callable[[str], CompassError]  # why -> the error to raise when the server keeps doing it
_MARKS = re.compile(r"\s|Ġ|Ċ|▁|<0x[0-9A-Fa-f]{2}>")  # whitespace, as byte-level/SentencePiece vocabularies spell it
_NOT_TEXT = re.compile(r"\ufffd|^token_id:\d+$")


def prompts_for(req: ScoreRequest) -> list[str]:
    """What is sent: the context alone, then the context followed by each continuation."""
    return [req.context] + [req.context + c for c in req.continuations]


def continuation_logprobs(req: ScoreRequest, answer: dict, cannot_score: Refusal, misaligned: Refusal) -> list[float]:
    """One summed log-prob per continuation of ``req``, from the server's ``answer`` to
    ``prompts_for(req)``; raises ``BadAnswer`` for an answer that fails a check."""
    prompts = prompts_for(req)
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices:
        raise BadAnswer("no choices in the answer")
    if len(choices) != len(prompts):
        raise BadAnswer(f"{len(prompts)} prompts sent, {len(choices)} choices back",
                        lasting=cannot_score(f"{len(prompts)} prompts sent, {len(choices)} echoed back"))
    by_index = {c.get("index"): c for c in choices if isinstance(c, dict)}
    if set(by_index) != set(range(len(prompts))):
        raise _misaligned(f"the choices are not indexed 0 to {len(prompts) - 1}, once each", misaligned)
    echoed = [_echoed(by_index[i], cannot_score, misaligned) for i in range(len(prompts))]
    for (_, _, text), prompt in zip(echoed, prompts):
        if isinstance(text, str) and text and not _squash(text).startswith(_squash(prompt)):
            raise _misaligned("an echoed text is not its prompt", misaligned)
    context_tokens = echoed[0][0]
    starts = [_continuation_start(context_tokens, tokens) for tokens, _, _ in echoed[1:]]
    if any(start is None or start >= len(tokens) for start, (tokens, _, _) in zip(starts, echoed[1:])):
        raise _misaligned("the context's tokens do not open the prompt's", misaligned)
    # Where one continuation took over the context's last token, every continuation's score starts
    # there: each then scores the same span of text, so the scores stay comparable.
    start = min(s for s in starts if s is not None)
    scores = []
    for continuation, (tokens, values, _) in zip(req.continuations, echoed[1:]):
        if not _text_ends_with(tokens[start:], continuation):
            raise _misaligned(f"the last tokens {''.join(tokens[start:])[-40:]!r} are not {continuation!r}",
                              misaligned)
        picked = values[start:]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v <= 1e-4 for v in picked):
            raise _misaligned("a continuation token has no valid log-prob", misaligned)
        scores.append(float(sum(picked)))
    return scores


def _echoed(choice: dict, cannot_score: Refusal, misaligned: Refusal) -> tuple[list[str], list, object]:
    logprobs = choice.get("logprobs")
    tokens = logprobs.get("tokens") if isinstance(logprobs, dict) else None
    values = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
    if not isinstance(tokens, list) or not isinstance(values, list) or not tokens:
        raise BadAnswer("no prompt log-probs in the answer",
                        lasting=cannot_score("the completions endpoint returned no prompt logprobs"))
    if len(tokens) != len(values) or not all(isinstance(t, str) for t in tokens):
        raise _misaligned(f"{len(tokens)} tokens but {len(values)} log-probs", misaligned)
    return tokens, values, choice.get("text")


def _continuation_start(context: list[str], tokens: list[str]) -> int | None:
    """Where the continuation's tokens start in ``tokens``: after the context's, or at the
    context's last token if that one merged with the continuation; None if neither."""
    n = len(context)
    if tokens[:n] == context:
        return n
    if n >= 1 and tokens[:n - 1] == context[:n - 1] and len(tokens) >= n and \
            _squash(tokens[n - 1]).startswith(_squash(context[n - 1])) and tokens[n - 1] != context[n - 1]:
        return n - 1
    return None


def _text_ends_with(tokens: list[str], continuation: str) -> bool:
    if not continuation.isascii() or any(_NOT_TEXT.search(t) for t in tokens):
        return True  # the token strings are not plain text here: nothing to compare
    return _squash("".join(tokens)).endswith(_squash(continuation))


def _squash(text: str) -> str:
    return _MARKS.sub("", text)


def _misaligned(why: str, misaligned: Refusal) -> BadAnswer:
    return BadAnswer(why, cause="misaligned", lasting=misaligned(why))
