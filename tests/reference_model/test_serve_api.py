"""``refmodel serve`` as a real process on loopback, queried with the official ``openai`` client
(and raw HTTP where a client would refuse to send the request): chat, streaming chat, completions
with echo and logprobs (equal to transformers' log-softmax), ``n`` > 1 with seeds, stop strings,
OpenAI-shaped 4xx errors for malformed and unsupported requests, 429 with Retry-After on a full
queue, aborts of disconnected clients (their cache freed), the API key and a graceful shutdown."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import openai
import pytest
import torch
from refmodel_helpers import Server, endless_export, random_export

KEY = "sk-test-0123456789"


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_corpus):
    root = tmp_path_factory.mktemp("serve")
    return {"random": random_export(root, tiny_corpus / "tokenizer", seed=5),
            "endless": endless_export(root, tiny_corpus / "tokenizer")}


@pytest.fixture(scope="module")
def server(models):
    with Server(models["random"], "--max-model-len", "256") as s:
        yield s


@pytest.fixture(scope="module")
def busy(models):
    """One sequence at a time, one waiting at most, an API key: a queue that fills up."""
    with Server(models["endless"], "--max-model-len", "4096", "--kv-cache-tokens", "16384", "--max-num-seqs", "1",
                "--max-waiting", "1", "--api-key", KEY) as s:
        yield s


@pytest.fixture(scope="module")
def hf(models):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = models["random"]
    return AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


def raw(server: Server, method: str, path: str, body: object = None, key: str | None = None,
        data: bytes | None = None) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", int(server.root.rsplit(":", 1)[1]), timeout=60)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    conn.request(method, path, body=data if data is not None else (None if body is None else json.dumps(body)),
                 headers=headers)
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), json.loads(payload) if payload else {}


def test_chat_and_streaming_chat_agree(server, hf):
    tok, _ = hf
    client = server.client()
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Ana has 12 apples."}]
    full = client.chat.completions.create(model="m", messages=messages, max_tokens=16, temperature=0)
    want_ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    want_ids = want_ids["input_ids"] if isinstance(want_ids, dict) or hasattr(want_ids, "keys") else want_ids
    assert full.usage.prompt_tokens == len(want_ids)
    assert full.choices[0].message.role == "assistant" and full.choices[0].finish_reason in ("stop", "length")
    chunks = list(client.chat.completions.create(model="m", messages=messages, max_tokens=16, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == full.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == full.usage.completion_tokens


@pytest.mark.parametrize("max_tokens", [0, 1])
def test_echo_logprobs_give_the_prompt_logprobs_with_a_leading_null(server, hf, max_tokens):
    tok, model = hf
    text = "Ana has 12 apples and buys 7 more"
    ids = tok(text)["input_ids"]
    with torch.no_grad():
        logp = model(torch.tensor([ids])).logits[0].float().log_softmax(-1)
    want = [logp[j - 1, ids[j]].item() for j in range(1, len(ids))]
    client = server.client()
    for prompt in (text, ids):  # a string, and token ids as lm-eval sends them
        answer = client.completions.create(model="m", prompt=prompt, echo=True, logprobs=1, max_tokens=max_tokens,
                                           temperature=0)
        lp = answer.choices[0].logprobs
        assert len(lp.tokens) == len(ids) + max_tokens
        assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
        assert lp.token_logprobs[1:len(ids)] == pytest.approx(want, abs=1e-4)
        assert lp.tokens[:len(ids)] == [tok.decode([i]) for i in ids]
        for token, value, top in zip(lp.tokens[1:], lp.token_logprobs[1:], lp.top_logprobs[1:]):
            assert top[token] == value and len(top) <= 2 and max(top.values()) <= 0
        assert answer.choices[0].text.startswith(tok.decode(ids) if isinstance(prompt, list) else text)
        assert answer.usage.prompt_tokens == len(ids) and answer.usage.completion_tokens == max_tokens


def test_several_prompts_come_back_in_order_as_compass_scores_them(server):
    context = "The capital of Land7 is"
    prompts = [context] + [context + c for c in (" City1", " City2", " City3")]
    answer = server.client().completions.create(model="m", prompt=prompts, echo=True, logprobs=0, max_tokens=0,
                                                temperature=0)
    assert [c.index for c in answer.choices] == [0, 1, 2, 3]
    assert [c.text for c in answer.choices] == prompts
    base = answer.choices[0].logprobs.tokens
    for c in answer.choices[1:]:
        assert c.logprobs.tokens[:len(base)] == base  # the context's tokens open every prompt
        assert c.logprobs.token_logprobs[:len(base)] == pytest.approx(answer.choices[0].logprobs.token_logprobs[:1] +
                                                                      answer.choices[0].logprobs.token_logprobs[1:],
                                                                      abs=1e-5)


def test_n_samples_are_seeded_per_sample(server):
    client = server.client()
    ask = dict(model="m", prompt="Story number", max_tokens=12, temperature=1.0, top_p=0.9)
    three = client.completions.create(n=3, seed=5, **ask)
    assert [c.index for c in three.choices] == [0, 1, 2]
    again = client.completions.create(n=3, seed=5, **ask)
    assert [c.text for c in again.choices] == [c.text for c in three.choices]
    assert len({c.text for c in three.choices}) > 1  # samples differ from each other
    second = client.completions.create(n=1, seed=6, **ask)  # sample j draws from seed + j
    assert second.choices[0].text == three.choices[1].text
    greedy = client.completions.create(model="m", prompt="Story number", max_tokens=12, temperature=0, n=2)
    assert greedy.choices[0].text == greedy.choices[1].text
    chat = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}], n=2, max_tokens=5,
                                          temperature=1.0, seed=1)
    assert [c.index for c in chat.choices] == [0, 1]


def test_stop_strings_and_max_tokens(server):
    client = server.client()
    base = client.completions.create(model="m", prompt="Ben has 9 apples", max_tokens=30, temperature=0)
    text = base.choices[0].text
    assert base.usage.completion_tokens <= 30
    cut = text[len(text) // 3: len(text) // 3 + 3]
    assert cut and len(text) > 6
    stopped = client.completions.create(model="m", prompt="Ben has 9 apples", max_tokens=30, temperature=0, stop=[cut])
    assert stopped.choices[0].text == text[:text.index(cut)] and stopped.choices[0].finish_reason == "stop"
    short = client.completions.create(model="m", prompt="Ben has 9 apples", max_tokens=3, temperature=0)
    assert short.usage.completion_tokens == 3 or short.choices[0].finish_reason == "stop"


BAD_REQUESTS = [
    ("/v1/completions", {"model": "m", "prompt": "x", "frequency_penalty": 0.5}, 400, "frequency_penalty"),
    ("/v1/completions", {"model": "m", "prompt": "x", "top_k": 3}, 400, "top_k"),
    ("/v1/completions", {"model": "m", "prompt": "x", "best_of": 3}, 400, "best_of"),
    ("/v1/completions", {"model": "m", "prompt": "x", "temperature": "hot"}, 400, "temperature"),
    ("/v1/completions", {"model": "m", "prompt": "x", "logprobs": 9}, 400, "logprobs"),
    ("/v1/completions", {"model": "m", "prompt": "x", "n": 0}, 400, "n"),
    ("/v1/completions", {"model": "m", "prompt": [[1, 2], [99999]]}, 400, "prompt"),
    ("/v1/completions", {"model": "m", "prompt": 3}, 400, "prompt"),
    ("/v1/completions", {"model": "m", "prompt": "x", "max_tokens": 10_000}, 400, "max_tokens"),
    ("/v1/completions", {"prompt": "x"}, 400, "model"),
    ("/v1/completions", {"model": "other", "prompt": "x"}, 404, "model"),
    ("/v1/completions", [1, 2], 400, None),
    ("/v1/chat/completions", {"model": "m", "messages": [{"role": "tool", "content": "x"}]}, 400, "messages[0]"),
    ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "x", "name": "a"}]}, 400,
     "messages[0]"),
    ("/v1/chat/completions", {"model": "m", "messages": []}, 400, "messages"),
    ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"x": 1}]}, 400,
     "tools"),
    ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 2}, 400,
     "top_logprobs"),
]


@pytest.mark.parametrize("path,body,status,param", BAD_REQUESTS, ids=[f"{i}" for i in range(len(BAD_REQUESTS))])
def test_malformed_and_unsupported_requests_get_openai_errors(server, path, body, status, param):
    got, _, answer = raw(server, "POST", path, body)
    assert got == status, answer
    assert set(answer["error"]) == {"message", "type", "param", "code"} and answer["error"]["message"]
    assert answer["error"]["param"] == param


def test_more_malformed_requests_and_neutral_fields(server):
    assert raw(server, "POST", "/v1/completions", data=b"{not json")[0] == 400
    status, _, answer = raw(server, "GET", "/v1/nowhere")
    assert status == 404 and answer["error"]["type"] == "not_found_error"
    assert raw(server, "GET", "/v1/completions")[0] == 405
    # A neutral value of an unimplemented field changes nothing, so it is accepted.
    ok = raw(server, "POST", "/v1/completions", {"model": "m", "prompt": "x", "max_tokens": 2, "presence_penalty": 0,
                                                 "logit_bias": {}, "user": "u"})
    assert ok[0] == 200
    with pytest.raises(openai.BadRequestError) as exc:  # and the official client sees a refusal as one
        server.client().completions.create(model="m", prompt="x", max_tokens=2, extra_body={"ignore_eos": True})
    assert "ignore_eos" in str(exc.value)
    assert server.proc.poll() is None  # nothing above crashed it


def _hold(server: Server, body: dict, stream: bool) -> socket.socket:
    """Send a request and leave it running; the caller closes the socket to disconnect."""
    sock = socket.create_connection(("127.0.0.1", int(server.root.rsplit(":", 1)[1])))
    data = json.dumps({**body, "stream": stream}).encode()
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
    return sock


def _wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.05)


LONG = {"model": "m", "prompt": "Emma has 30 apples and", "max_tokens": 4000, "temperature": 0}


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "non-streaming"])
def test_a_disconnected_client_is_aborted_and_its_cache_freed(busy, stream):
    before = busy.metrics()
    sock = _hold(busy, LONG, stream)
    _wait_for(lambda: busy.metrics()["refmodel:kv_cache_blocks_used"] > 0, "the request never ran")
    sock.close()
    aborted = 'refmodel:request_success_total{finished_reason="abort"}'
    _wait_for(lambda: busy.metrics()[aborted] == before[aborted] + 1, "the request was not aborted")
    after = busy.metrics()
    assert after["refmodel:kv_cache_blocks_used"] == 0 and after["refmodel:num_requests_running"] == 0
    generated = after["refmodel:generation_tokens_total"] - before["refmodel:generation_tokens_total"]
    assert generated < LONG["max_tokens"]  # it stopped early, not at max_tokens


def test_a_full_queue_gets_429_with_retry_after(busy):
    running = _hold(busy, LONG, stream=True)  # runs (max-num-seqs 1)
    _wait_for(lambda: busy.metrics()["refmodel:num_requests_running"] == 1, "first request never ran")
    waiting = _hold(busy, LONG, stream=True)  # waits (max-waiting 1)
    _wait_for(lambda: busy.metrics()["refmodel:num_requests_waiting"] == 1, "second request never queued")
    status, headers, answer = raw(busy, "POST", "/v1/completions", {**LONG, "max_tokens": 2}, key=KEY)
    assert status == 429 and headers.get("retry-after") == "1", answer
    assert answer["error"]["code"] == "rate_limit_exceeded"
    with pytest.raises(openai.RateLimitError):
        busy.client(KEY).completions.create(**{**LONG, "max_tokens": 2})
    running.close()
    waiting.close()
    _wait_for(lambda: busy.metrics()["refmodel:kv_cache_blocks_used"] == 0 and
              busy.metrics()["refmodel:num_requests_waiting"] == 0, "held requests were not freed")
    assert busy.client(KEY).completions.create(**{**LONG, "max_tokens": 2}).usage.completion_tokens == 2


def test_the_api_key_guards_the_v1_routes(busy):
    with pytest.raises(openai.AuthenticationError):
        busy.client("wrong").models.list()
    status, _, answer = raw(busy, "POST", "/v1/completions", {**LONG, "max_tokens": 1})
    assert status == 401 and answer["error"]["code"] == "invalid_api_key"
    assert [m.id for m in busy.client(KEY).models.list().data] == ["m"]
    assert raw(busy, "GET", "/health")[0] == 200
    assert busy.metrics()["refmodel:kv_cache_blocks_total"] > 0


def test_graceful_shutdown_lets_running_requests_finish(models):
    server = Server(models["endless"], "--max-model-len", "1024")
    result: dict = {}

    def ask() -> None:
        result["answer"] = server.client().completions.create(model="m", prompt="x", max_tokens=400, temperature=0)

    thread = threading.Thread(target=ask)
    thread.start()
    _wait_for(lambda: server.metrics()["refmodel:num_requests_running"] == 1, "request never ran")
    code = server.stop()
    thread.join(60)
    assert code == 0, server.stderr()
    assert result["answer"].usage.completion_tokens == 400 and result["answer"].choices[0].finish_reason == "length"
