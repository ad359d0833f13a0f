"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (tests/judge_server.py),
through the official ``openai`` client: generation, stop strings, concurrency, retries, one-line
errors, log-likelihood scoring, and a whole ``compass run`` with the key kept out of every file."""
from __future__ import annotations

import json
import time

import pytest

from compass import preflight
from compass.config import ModelConfig
from compass.errors import CompassError, TransientError
from compass.models import build
from compass.models.base import GenerateRequest, ScoreRequest
from compass.schema import from_dict

from helpers import compass, error_line, gsm8k_dataset, texts, write_config
from judge_server import Flaky, JudgeServer, Reply, by_substring, echo, fixed

KEY_ENV = "COMPASS_TEST_API_KEY"


def api_model(server: JudgeServer, **overrides) -> ModelConfig:
    cfg = dict(abbr="api", type="OpenAI", path="test-model", api_base=server.url, api_key_env=KEY_ENV, chat=True)
    return from_dict(ModelConfig, {**cfg, **overrides}, "models[0]")


def test_generation_chat_and_completions_cut_at_stop_strings():
    with JudgeServer(fixed("first part\n\nsecond part STOP more")) as server:
        chat = build(api_model(server, stop=["STOP"]))
        assert type(chat).__name__ == "OpenAIModel"
        out = texts(chat.generate([GenerateRequest("Q1", 7, ("\n\n",)), GenerateRequest("Q2", 9)]))
        # The server ignores stop strings here: the client cuts at them (its own and the model's).
        assert out == ["first part", "first part\n\nsecond part "]
        first, second = sorted(server.requests, key=lambda r: r["messages"][0]["content"])  # sent concurrently
        assert first["messages"] == [{"role": "user", "content": "Q1"}]
        assert first["max_tokens"] == 7 and first["temperature"] == 0 and first["stop"] == ["\n\n", "STOP"]
        assert "seed" not in first and second["stop"] == ["STOP"]

        plain = build(api_model(server, chat=False))
        many = ("x1", "x2", "x3", "x4", "second")  # the API takes 4 stop strings; the 5th is still cut here
        assert texts(plain.generate([GenerateRequest("Q3", 5, many)])) == ["first part\n\n"]
        assert server.requests[-1]["prompt"] == "Q3" and server.requests[-1]["stop"] == ["x1", "x2", "x3", "x4"]

        # Sampling: one request per sample, each with its own seed; greedy asks once for n samples.
        sampled = texts(chat.generate([GenerateRequest("Q4", 5, num_samples=3, temperature=0.7, seed=11)]))
        assert len(sampled) == 3 and server.count() == 6
        seeds = [r["seed"] for r in server.requests[-3:]]
        assert len(set(seeds)) == 3 and all(r["temperature"] == 0.7 for r in server.requests[-3:])
        assert texts(chat.generate([GenerateRequest("Q5", 5, num_samples=2)])) == ["first part\n\nsecond part "] * 2
        assert server.count() == 7


def test_batch_size_requests_run_concurrently_and_keep_their_order():
    def slow_echo(prompt, body):
        return Reply(f"answer to {prompt}", delay_s=0.3)

    with JudgeServer(slow_echo) as server:
        model = build(api_model(server, batch_size=4))
        out = texts(model.generate([GenerateRequest(f"q{i}", 5) for i in range(8)]))
    assert out == [f"answer to q{i}" for i in range(8)]
    # batch_size requests in flight, never more: each answer takes 0.3 s, so the first four overlap
    # whatever the machine's speed (no bound on the elapsed time, which a busy machine stretches).
    assert server.max_in_flight == 4


def test_retries_with_backoff_after_500_and_429_then_gives_up_in_one_line():
    with JudgeServer(Flaky(echo, failures=2, status=500)) as server:
        start = time.monotonic()
        assert texts(build(api_model(server, api_retries=3)).generate([GenerateRequest("hi", 5)])) == ["hi"]
        assert server.count() == 3 and time.monotonic() - start >= 1.4  # backoff 0.5 s, then 1 s

    state = {"n": 0}

    def rate_limited(prompt, body):  # honours the server's Retry-After
        state["n"] += 1
        return Reply("slow down", status=429, headers={"Retry-After": "0"}) if state["n"] == 1 else prompt

    with JudgeServer(rate_limited) as server:
        assert texts(build(api_model(server)).generate([GenerateRequest("hi", 5)])) == ["hi"]
        assert server.count() == 2

    with JudgeServer(Flaky(echo, failures=5, status=503)) as server:
        with pytest.raises(TransientError) as err:  # may pass later: the runner retries the task (exit 1)
            texts(build(api_model(server, api_retries=1)).generate([GenerateRequest("hi", 5)]))
    message = str(err.value)
    assert "\n" not in message and server.url in message and "HTTP 503" in message and "2 attempt(s)" in message
    assert server.count() == 2


def test_a_timed_out_request_is_retried():
    state = {"n": 0}

    def first_is_slow(prompt, body):
        state["n"] += 1
        return Reply(prompt, delay_s=2.0 if state["n"] == 1 else 0.0)

    with JudgeServer(first_is_slow) as server:
        model = build(api_model(server, api_timeout_s=0.5, api_retries=2))
        assert texts(model.generate([GenerateRequest("hi", 5)])) == ["hi"]
        assert server.count() == 2

    with JudgeServer(lambda p, b: Reply(p, delay_s=2.0)) as server:
        with pytest.raises(TransientError, match=r"no answer from /chat/completions within 0.3 s$"):
            texts(build(api_model(server, api_timeout_s=0.3, api_retries=0)).generate([GenerateRequest("hi", 5)]))


def test_unreachable_server_and_bad_key_are_one_line_errors_naming_the_server(monkeypatch):
    dead = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there
    model = build(from_dict(ModelConfig, dict(abbr="api", type="OpenAI", path="m", api_base=dead, api_retries=0), "m"))
    with pytest.raises(TransientError) as unreachable:  # a server still starting up answers later
        texts(model.generate([GenerateRequest("hi", 5)]))
    assert str(unreachable.value).startswith(f"{dead}: cannot reach the server") and "\n" not in str(unreachable.value)

    with JudgeServer(echo, key="the-right-key") as server:
        monkeypatch.setenv(KEY_ENV, "sk-wrong-key-1234567890")
        with pytest.raises(CompassError) as err:
            texts(build(api_model(server)).generate([GenerateRequest("hi", 5)]))
        message = str(err.value)
        assert message == f"{server.url}: authentication failed (HTTP 401): check the key in ${KEY_ENV}"
        monkeypatch.delenv(KEY_ENV)
        with pytest.raises(CompassError, match=rf"HTTP 401\): \${KEY_ENV} is not set"):
            texts(build(api_model(server)).generate([GenerateRequest("hi", 5)]))
        monkeypatch.setenv(KEY_ENV, "the-right-key")
        assert texts(build(api_model(server)).generate([GenerateRequest("hi", 5)])) == ["hi"]
        assert server.count() == 1  # 401s are not retried

    # A key value in the config is refused, and the message does not repeat it.
    with pytest.raises(CompassError) as err:
        api_model(server, api_key_env="sk-live-abcdef")
    assert "api_key_env: expected the name of an environment variable" in str(err.value)
    assert "abcdef" not in str(err.value)


def test_loglikelihood_scoring_through_echo_and_prompt_logprobs():
    logprob = {"Paris": -0.2, "Lyon": -2.5, "Berlin": -4.0, "Answer:": -9.0}
    with JudgeServer(echo, logprob=lambda token: logprob.get(token.strip(), -1.0)) as server:
        model = build(api_model(server, chat=False))
        scores = model.score([ScoreRequest("Capital of France? Answer:", (" Paris", " Lyon", " Berlin city")),
                              ScoreRequest("Q? Answer:", (" Lyon",))])
        # Only the continuation's tokens count, never the context's (-9 for "Answer:").
        assert scores == [[-0.2, -2.5, -5.0], [-2.5]]
        body = server.requests[0]
        assert body["echo"] is True and body["logprobs"] == 0 and body["max_tokens"] == 0
        assert server.count() == 2  # one request per context, all of its continuations together

        chat = build(api_model(server, chat=True))
        with pytest.raises(CompassError, match=r"cannot score multiple choice by log-likelihood.*GenInferencer"):
            chat.score([ScoreRequest("Q?", (" A",))])

    with JudgeServer(echo, can_score=False) as server:
        with pytest.raises(CompassError) as err:
            build(api_model(server, chat=False)).score([ScoreRequest("Q?", (" A", " B"))])
    message = str(err.value)
    assert message.startswith(f"{server.url}: this server cannot score multiple choice by log-likelihood")
    assert "echo with logprobs is not supported" in message and "GenInferencer" in message and "\n" not in message


def test_compass_run_with_an_api_model_keeps_the_key_out_of_every_file(tmp_path, mini_data):
    secret = "sk-test-4f9c2e7a1b8d6f3e0c5a9b2d7e1f4a8c"
    tests = [json.loads(line) for line in (mini_data["gsm8k"] / "test.jsonl").read_text().splitlines()]
    right = {t["question"]: f"Let me think.\nThe answer is {t['answer'].split('####')[-1].strip()}." for t in tests[:5]}
    # Each answer runs on into a new question, which the dataset's stop string "\n\n" must cut off.
    table = {q: a + "\n\nQuestion: what is 2 + 2?\nAnswer: The answer is 4." for q, a in right.items()}
    with JudgeServer(by_substring(table, default="I don't know. The answer is -1."), key=secret) as server:
        model = dict(abbr="api-model", type="OpenAI", path="test-model", api_base=server.url, api_key_env=KEY_ENV,
                     chat=True, batch_size=4, max_out_len=64)
        cfg = write_config(tmp_path / "api_eval.py", [model], [gsm8k_dataset(mini_data["gsm8k"])])
        proc = compass("run", str(cfg), cwd=tmp_path, env={KEY_ENV: secret})
        assert proc.returncode == 0, proc.stderr
        assert server.count() == 8  # one greedy request per sample
        (run,) = list((tmp_path / "outputs" / "api_eval").iterdir())
        result = json.loads((run / "results" / "api-model" / "gsm8k-mini.json").read_text())
        assert result["n"] == 8 and result["metrics"]["accuracy"] == 5 / 8
        predictions = run / "predictions" / "api-model" / "gsm8k-mini.jsonl"
        rows = [json.loads(line) for line in predictions.read_text().splitlines()]
        assert len(rows) == 8 and all("Question:" not in r["prediction"] for r in rows)

        # Resuming a finished run asks the server nothing.
        again = compass("run", str(cfg), "-r", cwd=tmp_path, env={KEY_ENV: secret})
        assert again.returncode == 0, again.stderr
        assert server.count() == 8

        files = [p for p in run.rglob("*") if p.is_file()]
        assert len(files) > 8
        for path in files:
            assert secret.encode() not in path.read_bytes(), path
        assert KEY_ENV in (run / "configs" / "resolved.json").read_text()  # the variable's name only

        # Without the key the run stops before any worker starts, in one line naming the server.
        denied = compass("run", str(cfg), cwd=tmp_path, env={KEY_ENV: "sk-not-the-key"})
        assert denied.returncode == 2
        assert error_line(denied).endswith(
            f"{server.url}: authentication failed (HTTP 401): check the key in ${KEY_ENV}")

    # The same preflight check, once the server is gone (in-process: a CLI start costs seconds).
    with pytest.raises(CompassError) as err:
        preflight.check_model(from_dict(ModelConfig, model, "models[0]"), "models[0] (api-model)")
    assert str(err.value).startswith(f"models[0] (api-model): {server.url}: cannot reach the server")
