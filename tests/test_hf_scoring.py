"""How the transformers backend shares work when scoring, and that every sharing is exact.

Each test compares against the plainest computation: one forward over context + continuation.
"""
from __future__ import annotations

import pytest

from compass.config import ModelConfig
from compass.models.base import ScoreRequest
from compass.models.hf import HFCausalLM
from compass.models.hf_score import build_rows
from compass.models.kv_prefix import prefix_groups
from compass.synthetic import mmlu_items

from helpers import direct_logprob, limit_forward_rows

SUBJECTS = ("elementary_arithmetic", "unit_conversion", "number_comparison")


@pytest.fixture(scope="module")
def backend(tiny_model):
    return HFCausalLM(ModelConfig(abbr="tiny", path=str(tiny_model), batch_size=4, max_seq_len=512))


def fewshot_requests(n_test: int = 4, texts: bool = True) -> list[ScoreRequest]:
    """MMLU-shaped 3-shot prompts over several subjects: a shared header, then per-subject shots."""
    requests = []
    for subject in SUBJECTS:
        shots = "".join(f"{i.question}\nAnswer: {i.choices[0]}\n\n" for i in mmlu_items(subject, "dev", 3))
        for item in mmlu_items(subject, "test", n_test):
            conts = tuple(f" {c}" for c in item.choices) if texts else (" A", " B", " C", " D")
            requests.append(ScoreRequest("The following are multiple choice questions (with answers).\n\n"
                                         + shots + item.question + "\nAnswer:", conts))
    return requests


def assert_exact(backend, requests, scores):
    for req, row in zip(requests, scores):
        for cont, value in zip(req.continuations, row):
            assert value == pytest.approx(direct_logprob(backend, req.context, cont), abs=1e-4)


def test_groups_share_each_subjects_fewshot_block_not_just_the_common_header(backend):
    """A header shared by every subject is short; each subject's shots are long. Grouping by the
    header alone (one group, short prefix) was the slow choice this guards against."""
    requests = fewshot_requests()
    contexts = [backend.tokenizer(r.context)["input_ids"] for r in requests]
    groups = prefix_groups(contexts, 8)
    assert sorted(sorted(m) for m, _ in groups) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    header = len(backend.tokenizer("The following are multiple choice questions (with answers).\n\n")["input_ids"])
    assert all(prefix > header + 20 for _, prefix in groups)


def test_multi_token_choices_share_one_row_and_score_exactly(backend):
    requests = fewshot_requests(texts=True)
    requests.append(ScoreRequest("The capital of Kamiro is", (" Tesk", " Tesk Tesk", " Tesk", " a city far away")))
    requests.append(ScoreRequest("Unrelated:", (" x",)))
    assert_exact(backend, requests, backend.score(requests))


def test_rows_hold_branches_and_dedupe_identical_ones():
    rows = build_rows([5, 6, 7], [[1], [2, 3], [2, 3], [2, 4, 9]], first_index=10, tree=True)
    assert len(rows) == 1
    row = rows[0]
    assert row.tokens == [5, 6, 7, 2, 2, 4]  # " 2 3" appears once; its last token is only predicted
    assert row.segments == [0, 0, 0, 1, 2, 2]
    assert row.offsets == [0, 1, 2, 3, 3, 4]  # branches continue from the suffix, side by side
    assert [(i, cols) for i, cols, _ in row.targets] == [(10, [2]), (11, [2, 3]), (12, [2, 3]), (13, [2, 4, 5])]
    assert row.scored_tail == 4
    plain = build_rows([5, 6, 7], [[1], [2, 3], [2, 4, 9]], first_index=0, tree=False)
    assert [r.tokens for r in plain] == [[5, 6, 7, 2], [5, 6, 7, 2, 4]]  # one branch per row


@pytest.mark.parametrize("mode", ["no-tree", "eager"])
def test_every_attention_path_gives_the_same_scores(tiny_model, backend, mode):
    requests = fewshot_requests(n_test=2)
    kwargs = {"model_kwargs": {"attn_implementation": "eager"}} if mode == "eager" else {}
    other = HFCausalLM(ModelConfig(abbr="tiny", path=str(tiny_model), batch_size=3, max_seq_len=512, **kwargs))
    if mode == "no-tree":  # what an attention implementation without custom masks (flash-attn) gets
        other.scorer.tree = False
    for a, b in zip(backend.score(requests), other.score(requests)):
        assert a == pytest.approx(b, abs=1e-4)


def test_logits_are_computed_only_at_scored_positions(backend):
    requests = fewshot_requests(texts=False)  # one-token choices: one scored position per row
    seen = []
    hook = backend.model.lm_head.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape[1]))
    try:
        backend.score(requests)
    finally:
        hook.remove()
    assert seen and set(seen) == {1}  # prefix passes included: they only need the KV cache


def test_token_budget_caps_each_forward(tiny_model):
    budgeted = HFCausalLM(ModelConfig(abbr="tiny", path=str(tiny_model), batch_size=32, max_seq_len=512,
                                      max_batch_tokens=600))
    shapes = []
    def record(mod, args, kwargs):
        past = kwargs.get("cache", kwargs.get("past_key_values"))  # its name differs across transformers
        shapes.append((kwargs["input_ids"].shape, past and past.get_seq_length()))

    hook = budgeted.model.register_forward_pre_hook(record, with_kwargs=True)
    requests = fewshot_requests(n_test=6)
    try:
        scores = budgeted.score(requests)
    finally:
        hook.remove()
    rows_per_forward = []
    for shape, past in shapes:
        if past:
            width = shape[1] + past
            assert shape[0] == 1 or shape[0] * width <= 600
            rows_per_forward.append(shape[0])
    assert max(rows_per_forward) > 1 and len(rows_per_forward) > 3
    assert_exact(budgeted, requests[:3], scores[:3])


def test_out_of_memory_halves_the_batch_and_keeps_going(tiny_model, caplog):
    """No GPU here: out-of-memory is simulated by a test double (helpers.limit_forward_rows)."""
    model = HFCausalLM(ModelConfig(abbr="tiny", path=str(tiny_model), batch_size=16, max_seq_len=512))
    requests = fewshot_requests(n_test=4)
    expected = model.score(requests)
    limit_forward_rows(model.model, 3)
    flat = lambda rows: [v for row in rows for v in row]  # noqa: E731
    assert flat(model.score(requests)) == pytest.approx(flat(expected), abs=1e-5)
    assert model.scorer.row_cap == 2
    assert "ran out of device memory; continuing with at most" in caplog.text


def test_generation_out_of_memory_halves_the_batch(tiny_model, caplog):
    """Simulated as above (no GPU here); generations come out the same, in smaller batches."""
    from compass.models.base import GenerateRequest

    model = HFCausalLM(ModelConfig(abbr="tiny", path=str(tiny_model), batch_size=8, max_seq_len=512))
    requests = [GenerateRequest(f"Question: {i} + {i} = ?\nAnswer:", 6) for i in range(7)]
    expected = model.generate(requests)
    limit_forward_rows(model.model, 2)
    assert model.generate(requests) == expected
    assert model.generate_cap == 2
    assert "ran out of device memory" in caplog.text
