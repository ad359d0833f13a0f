"""The continuous-batching engine in-process, stepped by hand (no threads): its tokens and prompt
log-probs equal transformers' on the exported model under chunked prefill, prefix reuse and
preemption; a sequence decodes the same alone and in a busy batch; budgets hold; aborts free."""
from __future__ import annotations

import pytest
import torch
from refmodel_helpers import random_export

from reference_model.serve.engine import Engine, EngineConfig
from reference_model.serve.loading import load_served
from reference_model.serve.sequence import Output, SamplingParams

PROMPTS = ["Ana has 12 apples and buys 7 more, so Ana has", "The capital of Land7 is City", "Story number 3 ends",
           "Ben has 9 apples and buys 4 more, so Ben has", "Ana has 12 apples and buys 7 more, so Ana has",
           "Emma has 30 apples", "The capital of Land7 is City", "Finn"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_corpus):
    return random_export(tmp_path_factory.mktemp("engine"), tiny_corpus / "tokenizer", seed=3)


@pytest.fixture(scope="module")
def reference(model_dir):
    """transformers' greedy tokens and prompt log-probs for every prompt."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    hf = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    out = {}
    for p in dict.fromkeys(PROMPTS):
        ids = tok(p, return_tensors="pt").input_ids
        with torch.no_grad():
            gen = hf.generate(ids, max_new_tokens=24, do_sample=False, pad_token_id=tok.pad_token_id)
            logp = hf(ids).logits[0].float().log_softmax(-1)
        out[p] = {"ids": ids[0].tolist(), "tokens": gen[0, ids.shape[1]:].tolist(),
                  "prompt_logprobs": [logp[j - 1, ids[0, j]].item() for j in range(1, ids.shape[1])]}
    return out


def make_engine(model_dir, **cfg) -> Engine:
    return load_served(model_dir, "m", lambda _: EngineConfig(**{"max_model_len": 256, **cfg})).engine


def run(engine: Engine, prompts: list[list[int]], params: SamplingParams,
        add_at: dict[int, int] | None = None) -> list[list[Output]]:
    """Step ``engine`` until every prompt finished; prompt k joins at step ``add_at.get(k, 0)``."""
    outs: list[list[Output]] = [[] for _ in prompts]
    add_at = add_at or {}
    step = 0
    while True:
        for k, ids in enumerate(prompts):
            if add_at.get(k, 0) == step:
                engine.add(ids, params, outs[k].append)
        engine._drain()
        engine.step()
        step += 1
        if step > max(add_at.values(), default=0) and all(o and o[-1].finished for o in outs):
            return outs
        assert step < 5000


def logprobs(entries) -> list[float]:
    """The values of prompt log-prob entries after the first (which has none)."""
    assert entries is not None and entries[0] is None
    return [e.logprob for e in entries[1:]]


def tokens(outs: list[Output]) -> list[int]:
    return [t for o in outs for t in o.token_ids]


@pytest.mark.parametrize("cfg", [dict(num_blocks=256, block_size=16, max_batched_tokens=512),
                                 # tiny blocks, a budget of 8 tokens and a cache for ~2 sequences: chunked prefill,
                                 # prefix reuse and preemption all happen
                                 dict(num_blocks=24, block_size=4, max_batched_tokens=8)],
                         ids=["roomy", "tight"])
def test_engine_equals_transformers(model_dir, reference, cfg):
    engine = make_engine(model_dir, **cfg)
    prompts = [reference[p]["ids"] for p in PROMPTS]
    outs = run(engine, prompts, SamplingParams(max_tokens=24, temperature=0, prompt_logprobs=5))
    for p, out in zip(PROMPTS, outs):
        want = reference[p]
        got = tokens(out)
        assert got == want["tokens"][:len(got)] and (len(got) == 24 or got[-1] in engine.eos_ids), p
        assert logprobs(out[0].prompt_logprobs) == pytest.approx(want["prompt_logprobs"], abs=1e-4), p
    m = engine.metrics
    assert m.finished["length"] + m.finished["stop"] == len(PROMPTS)
    assert engine.alloc.num_used() == 0  # every block given back
    if cfg["num_blocks"] == 24:
        assert engine.scheduler.num_preemptions > 0
        assert engine.alloc.hits > 0
        assert m.step_tokens.count > m.counters["generation_tokens_total"] / len(PROMPTS)  # more steps than decodes


def test_a_sequence_decodes_the_same_alone_and_in_a_busy_batch(model_dir, reference):
    params = SamplingParams(max_tokens=20, temperature=0, logprobs=0)
    target = reference[PROMPTS[0]]["ids"]
    alone = run(make_engine(model_dir, num_blocks=128), [target], params)[0]
    others = [reference[p]["ids"] for p in PROMPTS[1:]]
    # The target joins at step 5, while seven others decode (and one of them prefills the same prompt).
    busy = run(make_engine(model_dir, num_blocks=128), others + [target], params, add_at={len(others): 5})[-1]
    assert tokens(busy) == tokens(alone)
    lp_alone = [e.logprob for o in alone for e in o.logprobs]
    lp_busy = [e.logprob for o in busy for e in o.logprobs]
    assert lp_busy == pytest.approx(lp_alone, abs=1e-5)


def test_token_budget_and_batch_size_limits_hold(model_dir, reference):
    engine = make_engine(model_dir, num_blocks=256, max_batched_tokens=10, max_num_seqs=3)
    seen: list[tuple[int, int]] = []  # (tokens scheduled, sequences running) per step
    schedule = engine.scheduler.schedule

    def spy():
        scheduled = schedule()
        seen.append((sum(item.count for item in scheduled), len(engine.scheduler.running)))
        return scheduled

    engine.scheduler.schedule = spy  # type: ignore[method-assign]
    run(engine, [reference[p]["ids"] for p in PROMPTS], SamplingParams(max_tokens=6, temperature=0))
    assert max(t for t, _ in seen) == 10  # the budget binds (prompts are longer than 10 tokens) ...
    assert max(n for _, n in seen) == 3  # ... and so does the batch size


def test_prefix_cache_serves_prompt_logprobs_only_where_it_holds_them(model_dir, reference):
    engine = make_engine(model_dir, num_blocks=256, block_size=4)
    p = reference[PROMPTS[0]]
    echo = SamplingParams(max_tokens=0, temperature=0, prompt_logprobs=5)
    # A plain request registers the prompt's blocks without log-probs: an echo request cannot use them.
    run(engine, [p["ids"]], SamplingParams(max_tokens=1, temperature=0))
    first = run(engine, [p["ids"]], echo)[0]
    assert first[-1].num_cached_tokens == 0
    second = run(engine, [p["ids"]], echo)[0]
    assert second[-1].num_cached_tokens >= 4 * ((len(p["ids"]) - 1) // 4) > 0
    for out in (first, second):
        assert logprobs(out[0].prompt_logprobs) == pytest.approx(p["prompt_logprobs"], abs=1e-4)
        assert out[-1].finish_reason == "length" and tokens(out) == []


def test_abort_frees_the_sequence_blocks(model_dir, reference):
    engine = make_engine(model_dir, num_blocks=64, enable_prefix_cache=False)
    outs: list[Output] = []
    seq = engine.add(reference[PROMPTS[3]]["ids"], SamplingParams(max_tokens=200, temperature=0), outs.append)
    engine._drain()
    for _ in range(3):
        engine.step()
    assert engine.alloc.num_used() > 0
    engine.abort(seq)
    engine._drain()
    assert engine.alloc.num_used() == 0 and outs[-1].finished and outs[-1].finish_reason == "abort"
    assert not engine.scheduler.has_work()


def test_kept_decode_keys_equal_transformers_whatever_memory_they_start_in(model_dir, reference, monkeypatch):
    """Rows of uneven lengths decode past the gathered width into the kept room (runner.DecodeKV); with
    fresh memory full of NaN, a shorter row's masked positions there must still weigh nothing."""
    import math

    import reference_model.serve.runner as runner_module

    new_empty = torch.Tensor.new_empty
    monkeypatch.setattr(torch.Tensor, "new_empty", lambda self, *size, **kw: new_empty(self, *size, **kw).fill_(math.nan))
    real_follows = runner_module.DecodeKV.follows
    appended: list[bool] = []

    def follows(self, inp):
        appended.append(real_follows(self, inp))
        return appended[-1]

    monkeypatch.setattr(runner_module.DecodeKV, "follows", follows)
    engine = make_engine(model_dir, num_blocks=256, block_size=4)
    prompts = list(dict.fromkeys(PROMPTS))
    outs = run(engine, [reference[p]["ids"] for p in prompts], SamplingParams(max_tokens=24, temperature=0))
    for p, out in zip(prompts, outs):
        got = tokens(out)
        assert got == reference[p]["tokens"][:len(got)] and (len(got) == 24 or got[-1] in engine.eos_ids), p
    assert sum(appended) > 10  # most steps appended to the kept keys instead of gathering them
