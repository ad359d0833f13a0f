"""Continuation log-probs out of echoed answers, aligned by tokens (compass/models/openai_align.py).

The answers below are written out by hand in the shapes servers send: vLLM's decoded tokens with
the BOS text, older servers' raw SentencePiece pieces, ``token_id:N`` placeholders. The
alignment is a pure function of the answer, so no server is needed to pin those shapes down;
tests/test_openai_faults.py runs the same code against a real server and a real model."""
from __future__ import annotations

import pytest

from compass.errors import CompassError
from compass.models.base import ScoreRequest
from compass.models.openai_align import continuation_logprobs, prompts_for
from compass.models.openai_transport import BadAnswer

REQUEST = ScoreRequest("Q: 2+2?\nAnswer:", (" 4", " 5"))


def answer(*choices: tuple[list[str], list[float | None]], texts: list[str] | None = None,
           indices: list[int] | None = None) -> dict:
    texts = texts if texts is not None else prompts_for(REQUEST)
    indices = indices if indices is not None else list(range(len(choices)))
    return {"choices": [{"index": i, "text": text, "logprobs": {"tokens": tokens, "token_logprobs": values}}
                        for i, text, (tokens, values) in zip(indices, texts, choices)]}


def refuse(why: str) -> CompassError:
    return CompassError(why)


def score(ans: dict, request: ScoreRequest = REQUEST) -> list[float]:
    return continuation_logprobs(request, ans, refuse, refuse)


def test_vllm_style_tokens_with_the_bos_text():
    ctx = ["<|endoftext|>", "Q", ":", " 2", "+", "2", "?\n", "Answer", ":"]
    lps: list[float | None] = [None, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0]
    got = score(answer((ctx, lps), (ctx + [" 4"], lps + [-0.5]), (ctx + [" 5"], lps + [-2.5])))
    assert got == [-0.5, -2.5]


@pytest.mark.parametrize("four, five", [
    (["▁4"], ["▁5"]),  # raw SentencePiece pieces, as older vLLM versions sent them
    (["token_id:29946"], ["token_id:29945"]),  # vLLM's --return-tokens-as-token-ids
    ([" ", "4", "<0x0A>"], [" ", "5", "<0x0A>"]),  # byte fallback pieces
])
def test_other_token_spellings_are_aligned_the_same_way(four, five):
    request = ScoreRequest(REQUEST.context, (" 4\n", " 5\n")) if len(four) == 3 else REQUEST
    ctx = ["<s>", "▁Q", ":", "▁2", "+", "2", "?", "<0x0A>", "Answer", ":"]
    lps: list[float | None] = [None] + [-1.0] * 9
    n = len(four)
    texts = prompts_for(request)
    got = score(answer((ctx, lps), (ctx + four, lps + [-0.25] * n), (ctx + five, lps + [-0.75] * n), texts=texts),
                request)
    assert got == [-0.25 * n, -0.75 * n]


def test_a_merged_boundary_token_moves_every_choice_start():
    request = ScoreRequest("Answer: ", ("A", "4"))
    ctx, lps = ["<s>", "Answer", ":", " "], [None, -1.0, -1.0, -3.0]
    got = score(answer((ctx, lps), (ctx[:3] + [" A"], lps[:3] + [-0.5]), (ctx + ["4"], lps + [-0.25]),
                       texts=prompts_for(request)), request)
    assert got == [-0.5, -3.25]  # "4" is scored together with the space before it, as " A" is


@pytest.mark.parametrize("broken, why", [
    ("indices", "not indexed"),
    ("texts", "echoed text is not its prompt"),
    ("positive", "no valid log-prob"),
    ("null", "no valid log-prob"),
    ("short", "do not open"),
    ("other continuation", "are not ' 5'"),
])
def test_answers_that_do_not_line_up_are_rejected_as_misaligned(broken, why):
    ctx = ["<s>", "Q", ":", " 2", "+", "2", "?\n", "Answer", ":"]
    lps: list[float | None] = [None] + [-1.0] * 8
    four, five = (ctx + [" 4"], lps + [-0.5]), (ctx + [" 5"], lps + [-2.5])
    kwargs: dict = {}
    if broken == "indices":
        kwargs["indices"] = [0, 1, 1]
    elif broken == "texts":
        kwargs["texts"] = [prompts_for(REQUEST)[i] for i in (0, 2, 1)]
    elif broken == "positive":
        five = (ctx + [" 5"], lps + [0.5])
    elif broken == "null":
        five = (ctx + [" 5"], lps + [None])
    elif broken == "short":
        five = (ctx[:-2], lps[:-2])
    elif broken == "other continuation":
        five = (ctx + [" 4"], lps + [-0.5])
    with pytest.raises(BadAnswer, match=why) as err:
        score(answer((ctx, lps), four, five, **kwargs))
    assert err.value.cause == "misaligned" and isinstance(err.value.lasting, CompassError)


def test_answers_without_choices_or_log_probs_are_malformed():
    with pytest.raises(BadAnswer, match="no choices") as err:
        score({"choices": []})
    assert err.value.cause == "malformed" and err.value.lasting is None  # transient: retried
    no_logprobs = {"choices": [{"index": i, "text": t, "logprobs": None} for i, t in enumerate(prompts_for(REQUEST))]}
    with pytest.raises(BadAnswer, match="no prompt log-probs") as err:
        score(no_logprobs)
    assert err.value.cause == "malformed" and isinstance(err.value.lasting, CompassError)  # a server without them
