"""The OpenAI-compatible backend against a server that answers like vLLM (tests/vllm_like_server.py,
the real demo model behind it) and a fault-injecting proxy in front of it (tests/fault_proxy.py):
prompt log-probs aligned by tokens, never by character offsets; every broken answer retried and
counted, never stored; failures that outlast the retries reported as transient, with the finished
requests of the batch handed back."""
from __future__ import annotations

import csv
import json
import logging
from collections import Counter

import pytest

from compass.config import ModelConfig
from compass.errors import CompassError, PartialResults, TransientError
from compass.models import build
from compass.models.base import GenerateRequest, ScoreRequest
from compass.models.hf import HFCausalLM
from compass.models.openai_api import OpenAIModel
from compass.schema import from_dict

from fault_proxy import FaultProxy, always, first_attempts
from helpers import REPO, compass, gsm8k_dataset, write_config
from judge_server import Flaky, JudgeServer, echo
from vllm_like_server import VLLMLikeServer

DEMO = REPO / "examples" / "assets" / "reference-demo"
CHOICES = (" A", " B", " C", " D")


@pytest.fixture(scope="module")
def vllm_server():
    with VLLMLikeServer(str(DEMO), name="reference-demo") as server:
        yield server


@pytest.fixture(scope="module")
def hf_demo() -> HFCausalLM:
    return HFCausalLM(ModelConfig(abbr="hf", path=str(DEMO), dtype="float32", device="cpu", max_seq_len=1024))


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    """Backoff of 10 ms instead of 0.5 s, 1 s, ...: what is tested is which attempts happen."""
    import importlib

    try:
        module = importlib.import_module("compass.models.openai_transport")
    except ImportError:  # before the fix
        module = importlib.import_module("compass.models.openai_api")
    monkeypatch.setattr(module, "BACKOFF_S", 0.01)


def api_model(url: str, **overrides) -> OpenAIModel:
    """The backend as ``compass run`` builds it from a config."""
    model = build(api_cfg(url, **overrides))
    assert isinstance(model, OpenAIModel)
    return model


def api_cfg(url: str, **overrides) -> ModelConfig:
    cfg = {"abbr": "api", "type": "OpenAI", "path": "reference-demo", "api_base": url,
           "api_key_env": "COMPASS_TEST_NO_KEY", "chat": False, "batch_size": 8, "api_retries": 3, "api_timeout_s": 30}
    return from_dict(ModelConfig, {**cfg, **overrides}, "models[0]")


def mmlu_contexts(n: int) -> list[str]:
    """Zero-shot MMLU-format questions from the demo's mini set."""
    path = REPO / "examples/data/mmlu-mini/data/test/unit_conversion_test.csv"
    rows = list(csv.reader(path.open()))[:n]
    return [f"{q}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\nAnswer:" for q, a, b, c, d, _ in rows]


def gsm8k_prompts(n: int) -> list[GenerateRequest]:
    rows = [json.loads(line) for line in (REPO / "examples/data/gsm8k-mini/test.jsonl").read_text().splitlines()][:n]
    return [GenerateRequest(f"Question: {r['question']}\nAnswer:", 24, ("\n\n", "Question:")) for r in rows]


# -- the server counts offsets the way vLLM's does ----------------------------------------------------
def test_the_vllm_like_server_counts_the_decoded_bos_in_text_offset(vllm_server):
    import openai

    client = openai.OpenAI(base_url=vllm_server.url, api_key="EMPTY", max_retries=0)
    resp = client.completions.create(model="reference-demo", prompt="Answer: A", echo=True, logprobs=0, max_tokens=0)
    lp = resp.choices[0].logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.top_logprobs and lp.text_offset
    assert resp.choices[0].text == "Answer: A"
    assert lp.tokens[0] == "<|endoftext|>" and lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert lp.text_offset[:2] == [0, 13]  # "Answer" starts at 0 in the prompt, at 13 in vLLM's count
    assert "".join(lp.tokens) == "<|endoftext|>Answer: A"
    # A prompt given as token ids is used as is, and echoed as its decoded text, BOS included.
    ids = [0, 47, 995]
    by_ids = client.completions.create(model="reference-demo", prompt=ids, echo=True, logprobs=0, max_tokens=0)
    by_ids_lp = by_ids.choices[0].logprobs
    assert by_ids.choices[0].text == "<|endoftext|>Hello" and by_ids_lp is not None and len(by_ids_lp.tokens or []) == 3


def test_scores_through_a_vllm_like_server_equal_the_transformers_backend(vllm_server, hf_demo):
    requests = [ScoreRequest(ctx, CHOICES) for ctx in mmlu_contexts(6)]
    requests.append(ScoreRequest("Question: How many days are in 2 weeks?\nAnswer:", (" 14 days", " 12", " fourteen")))
    model = api_model(vllm_server.url)
    api, ref = model.score(requests), hf_demo.score(requests)
    for got, want in zip(api, ref):
        assert got == pytest.approx(want, abs=1e-4)
        assert len(set(got)) == len(got)  # reading offsets as prompt positions made every choice equal
    assert model.retries == Counter()


def test_a_context_ending_in_a_space_scores_every_choice_from_that_space(vllm_server, hf_demo):
    # This tokenizer merges " " + "A" into " A" but keeps " " + "4" apart: every choice is scored
    # from the space on, i.e. as " A", " 4", " (A)" after the context without its space.
    context = "Question: What is 2 + 2?\nAnswer: "
    got = api_model(vllm_server.url).score([ScoreRequest(context, ("A", "4", "(A)"))])
    want = hf_demo.score([ScoreRequest(context[:-1], (" A", " 4", " (A)"))])
    assert got[0] == pytest.approx(want[0], abs=1e-4)


# -- broken answers are retried, counted, never stored ------------------------------------------------
@pytest.mark.parametrize("faults", [("no_choices", "empty_choices"), ("truncated",)])
def test_generation_retries_answers_without_choices_or_with_broken_json(vllm_server, faults):
    requests = gsm8k_prompts(4)
    want = api_model(vllm_server.url).generate(requests)
    assert all(want)  # real answers, so an empty string cannot pass for one
    with FaultProxy(vllm_server.url, first_attempts(*faults)) as proxy:
        model = api_model(proxy.url)
        assert model.generate(requests) == want
    assert proxy.injected == Counter({kind: len(requests) for kind in faults})
    assert model.retries == Counter(malformed=len(faults) * len(requests))


@pytest.mark.parametrize("faults", [("no_choices", "empty_choices"), ("truncated",)])
def test_scoring_retries_answers_without_choices_or_with_broken_json(vllm_server, faults):
    requests = [ScoreRequest(ctx, CHOICES) for ctx in mmlu_contexts(3)]
    want = api_model(vllm_server.url).score(requests)
    with FaultProxy(vllm_server.url, first_attempts(*faults)) as proxy:
        model = api_model(proxy.url)
        assert model.score(requests) == want
    assert model.retries == Counter(malformed=len(faults) * len(requests))


def test_every_retry_is_counted_by_its_cause(vllm_server):
    request, question = gsm8k_prompts(1), [ScoreRequest(mmlu_contexts(1)[0], CHOICES)]
    want, scored = api_model(vllm_server.url).generate(request), api_model(vllm_server.url).score(question)
    transport, broken = ("429", "5xx", "hang", "reset"), ("truncated", "no_choices", "rotate_logprobs")

    def policy(body: bytes, attempt: int) -> str | None:  # the generation meets the first, the scoring the second
        kinds = broken if json.loads(body).get("echo") else transport
        return kinds[attempt - 1] if attempt <= len(kinds) else None

    # The hang outlasts the client's timeout by far: the client waits for its timeout alone. The
    # timeout leaves a busy machine's slow answers (a fraction of a second here) far behind.
    with FaultProxy(vllm_server.url, policy, hang_s=60.0, retry_after="0") as proxy:
        model = api_model(proxy.url, api_retries=4, api_timeout_s=5.0)
        assert model.generate(request) == want
        assert model.score(question) == scored
    assert proxy.injected == Counter(transport + broken)
    assert model.retries == Counter({"429": 1, "5xx": 1, "timeout": 1, "connection": 1, "malformed": 2,
                                     "misaligned": 1})


# -- misaligned log-probs are refused -----------------------------------------------------------------
@pytest.mark.parametrize("fault", ["rotate_logprobs", "cut_last_token"])
def test_log_probs_that_do_not_line_up_with_the_prompt_are_refused(vllm_server, fault):
    requests = [ScoreRequest(ctx, CHOICES) for ctx in mmlu_contexts(2)]
    want = api_model(vllm_server.url).score(requests)
    with FaultProxy(vllm_server.url, first_attempts(fault)) as proxy:  # once: retried, then right
        model = api_model(proxy.url)
        assert model.score(requests) == want
    assert model.retries == Counter(misaligned=len(requests))
    with FaultProxy(vllm_server.url, always(fault)) as proxy:  # every time: no score is better than a wrong one
        model = api_model(proxy.url, api_retries=2)
        with pytest.raises(CompassError) as err:
            model.score(requests[:1])
    message = str(err.value)
    assert "\n" not in message and proxy.url in message and "do not line up with the prompt" in message
    assert model.retries == Counter(misaligned=2)


def test_all_choices_scored_alike_is_flagged(caplog):
    # Every token is worth -1 on this server: each choice gets the same score, a tell-tale of a broken server.
    with JudgeServer(echo, logprob=lambda token: -1.0) as server:
        model = api_model(server.url, path="test-model")
        with caplog.at_level(logging.WARNING, logger="compass.models.openai_api"):
            scores = model.score([ScoreRequest(f"Q{i}? Answer:", CHOICES) for i in range(3)])
    assert scores == [[-1.0] * 4] * 3
    assert any("3 of 3 requests" in r.getMessage() and "every choice the same score" in r.getMessage()
               for r in caplog.records)


# -- failures that outlast the retries ----------------------------------------------------------------
def test_a_failure_that_outlasts_the_retries_is_transient_not_bad_input(vllm_server):
    with FaultProxy(vllm_server.url, always("5xx")) as proxy:
        model = api_model(proxy.url, api_retries=2)
        with pytest.raises(TransientError) as err:
            model.generate(gsm8k_prompts(1))
    message = str(err.value)
    assert not isinstance(err.value, CompassError)
    assert "\n" not in message and proxy.url in message and "3 attempt(s)" in message
    assert model.retries == Counter({"5xx": 2})

    with FaultProxy(vllm_server.url, always("no_choices")) as proxy:
        model = api_model(proxy.url, api_retries=1)
        with pytest.raises(TransientError, match="no choices"):
            model.score([ScoreRequest(mmlu_contexts(1)[0], CHOICES)])


def test_finished_requests_of_a_failed_batch_are_handed_back(vllm_server):
    requests = gsm8k_prompts(6)
    want = api_model(vllm_server.url).generate(requests)
    doomed = always("reset", when=lambda body: json.loads(body)["prompt"] == requests[3].prompt)
    with FaultProxy(vllm_server.url, doomed) as proxy:
        model = api_model(proxy.url, api_retries=1)
        with pytest.raises(PartialResults) as err:
            model.generate(requests)
    assert isinstance(err.value.cause, TransientError)
    assert err.value.done == {i: [want[i]] for i in range(6) if i != 3}  # a request's texts, in sample order

    contexts = mmlu_contexts(4)
    requests_ = [ScoreRequest(c, CHOICES) for c in contexts]
    scored = api_model(vllm_server.url).score(requests_)
    doomed = always("empty_choices", when=lambda body: json.loads(body)["prompt"][0] == contexts[2])
    with FaultProxy(vllm_server.url, doomed) as proxy:
        model = api_model(proxy.url, api_retries=1)
        with pytest.raises(PartialResults) as err:
            model.score(requests_)
    assert isinstance(err.value.cause, TransientError)
    assert err.value.done == {i: scored[i] for i in range(4) if i != 2}


def test_a_run_whose_server_keeps_failing_exits_1_and_the_runner_retries_it(tmp_path, mini_data):
    with JudgeServer(Flaky(echo, failures=10 ** 6, status=503)) as server:
        model = {"abbr": "api-model", "type": "OpenAI", "path": "test-model", "api_base": server.url,
                     "api_key_env": "COMPASS_TEST_NO_KEY", "chat": True, "api_retries": 1, "max_out_len": 8}
        cfg = write_config(tmp_path / "api_eval.py", [model], [gsm8k_dataset(mini_data["gsm8k"])])
        proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # failed after the runner's retry; never 2 ("bad input")
    (log,) = (tmp_path / "outputs" / "api_eval").glob("*/logs/infer/*.log")
    text = log.read_text()
    assert "=== attempt 2" in text and "HTTP 503" in text
