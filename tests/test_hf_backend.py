"""The transformers backend on a real (tiny, random) Llama model: exact scores, batch invariance."""
from __future__ import annotations

import pytest

from compass.config import ModelConfig
from compass.models.base import GenerateRequest, ScoreRequest, cut_at_stop
from compass.models.hf import HFCausalLM
from compass.synthetic import gsm8k_items, mmlu_items

from helpers import backend_recording_rows, direct_logprob, texts


@pytest.fixture(scope="module")
def backend(tiny_model):
    return HFCausalLM(ModelConfig(abbr="tiny", path=str(tiny_model), batch_size=4, max_seq_len=512))


def test_scores_equal_a_direct_computation(backend):
    requests = [ScoreRequest("What is 2 + 3? Answer:", (" A", " B", " C", " D")),
                ScoreRequest("The capital of Kamiro is", (" Tesk", " a city far away", " Belquia"))]
    scores = backend.score(requests)
    for req, row in zip(requests, scores):
        for cont, value in zip(req.continuations, row):
            assert value == pytest.approx(direct_logprob(backend, req.context, cont), abs=1e-4)
    assert scores[1][1] < scores[1][0]  # a longer continuation adds more negative terms


def test_shared_fewshot_prefix_scores_exactly(backend):
    """Few-shot contexts share a long prefix: it runs once, and every score still equals the
    direct computation, for single-token and multi-token continuations alike."""
    from compass.models.kv_prefix import MIN_SHARED_PREFIX, prefix_groups

    shots = "".join(f"{i.question} Answer: {i.choices[0]}\n\n" for i in mmlu_items("unit_conversion", "dev", 5))
    tests = mmlu_items("unit_conversion", "test", 5)
    requests = [ScoreRequest(shots + t.question + " Answer:", tuple(f" {c}" for c in t.choices)) for t in tests]
    requests.append(ScoreRequest("A lone context:", (" yes", " no at all")))
    contexts = [backend.tokenizer(r.context)["input_ids"] for r in requests]
    groups = prefix_groups(contexts, MIN_SHARED_PREFIX)
    assert sorted(len(m) for m, _ in groups) == [1, 5]
    assert max(p for _, p in groups) >= 50  # the five shots are one cached prefix
    for req, row in zip(requests, backend.score(requests)):
        for cont, value in zip(req.continuations, row):
            assert value == pytest.approx(direct_logprob(backend, req.context, cont), abs=1e-4)


def test_prefix_groups_edge_cases():
    from compass.models.kv_prefix import prefix_groups

    same = [[1, 2, 3, 4], [1, 2, 3, 4]]
    assert prefix_groups(same, 2) == [([0, 1], 3)]  # the last token always stays in the row
    # Nothing shared: one prefix-free group, so the requests still batch together.
    assert prefix_groups([[1, 2, 3], [9, 9, 9]], 2) == [([0, 1], 0)]
    assert prefix_groups([], 2) == []


def _mc_requests():
    items = [i for s in ("elementary_arithmetic", "unit_conversion") for i in mmlu_items(s, "test", 20)]
    return [ScoreRequest(f"{i.question}\nA. {i.choices[0]}\nB. {i.choices[1]}\nC. {i.choices[2]}\n"
                         f"D. {i.choices[3]}\nAnswer:", tuple(f" {c}" for c in i.choices)) for i in items]


def test_choices_do_not_depend_on_batch_size_or_order(tiny_model):
    requests = _mc_requests()
    results, widest = {}, {}
    for batch_size in (1, 7, 32):
        sized, rows = backend_recording_rows(tiny_model, batch_size)
        results[batch_size] = sized.score(requests)
        widest[batch_size] = max(rows)
        if batch_size == 7:
            reversed_scores = sized.score(requests[::-1])[::-1]
    # The batch size took effect: no forward ran more rows than it allows, and the larger ones did batch.
    assert widest[1] == 1 and 1 < widest[7] <= 7 and 7 < widest[32] <= 32

    def pick(rows):
        return [max(range(len(r)), key=r.__getitem__) for r in rows]

    assert pick(results[1]) == pick(results[7]) == pick(results[32]) == pick(reversed_scores)
    for a, b in zip(results[1], results[32]):
        assert a == pytest.approx(b, abs=1e-4)


def test_generation_is_batch_invariant_and_stops(backend, tiny_model):
    prompts = [f"Question: {r['question']}\nAnswer:" for r in gsm8k_items("test", 9)]
    outs, widest = {}, {}
    for batch_size in (1, 7, 32):
        sized, rows = backend_recording_rows(tiny_model, batch_size)
        outs[batch_size] = texts(sized.generate([GenerateRequest(p, 16) for p in prompts]))
        widest[batch_size] = max(rows)
    assert widest == {1: 1, 7: 7, 32: 9}  # each batch size took effect (9 prompts in all)
    assert outs[1] == outs[7] == outs[32]
    assert all(isinstance(o, str) for o in outs[1])
    # Stop strings cut the text: ask to stop at the first character the model produced.
    first = outs[1][0].strip()[:1]
    if first:
        stopped = backend.generate([GenerateRequest(prompts[0], 16, (first,))])[0].text
        assert first not in stopped and outs[1][0].startswith(stopped)


def test_cut_at_stop():
    assert cut_at_stop("abc\n\nQuestion: x", ("Question:", "\n\n")) == "abc"
    assert cut_at_stop("abc", ()) == "abc"
    assert cut_at_stop("abc", ("",)) == "abc"


def test_missing_weights_is_one_clear_error(tmp_path):
    from compass.errors import CompassError

    (tmp_path / "m").mkdir()
    with pytest.raises(CompassError, match=r"model .*: tokenizer not available"):
        HFCausalLM(ModelConfig(abbr="x", path=str(tmp_path / "m")))
