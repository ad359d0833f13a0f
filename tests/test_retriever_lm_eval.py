"""The ``lm_eval_default`` retriever (alias ``ContextSampler``): lm-eval's default few-shot sampler.

Its draws are checked against lm-eval's own prompts in test_presets.py; here, the properties that
make a run's shots well defined: one seeded stream per group drawn in test order, the sample never
among its own shots when the pool is the test split, and one-line errors for pools too small.
"""
from __future__ import annotations

import random

import pytest

from compass.config import RetrieverCfg
from compass.datasets.base import Sample
from compass.errors import CompassError
from compass.prompts.retrievers import Retriever


def _samples(n: int, group: str | None = None, prefix: str = "q") -> list[Sample]:
    return [Sample(f"{prefix}{i}", {"question": f"{prefix} question {i}"}, str(i), group) for i in range(n)]


def _cfg(k: int = 3, seed: int = 1234) -> RetrieverCfg:
    return RetrieverCfg("ContextSampler", k=k, seed=seed).validate("test")


def test_alias_and_one_seeded_stream_in_test_order():
    assert _cfg().type == "lm_eval_default"
    pool, tests = _samples(10, prefix="p"), _samples(4)
    retriever = Retriever(_cfg(), pool, None, "test")
    shots = [retriever.select(s) for s in tests]
    stream = random.Random(1234)  # lm-eval: random.Random(1234), k draws per document, in order
    assert shots == [stream.sample(pool, 3) for _ in tests]
    assert len({tuple(s.id for s in shot) for shot in shots}) > 1  # the stream moves on


def test_each_group_has_its_own_stream():
    """lm-eval runs each MMLU subject as a task with its own sampler: a subject's shots do not depend
    on the other subjects in the run."""
    pool = _samples(6, "a", "pa") + _samples(6, "b", "pb")
    a, b = _samples(3, "a", "a"), _samples(3, "b", "b")
    alone = Retriever(_cfg(), pool, None, "test")
    b_alone = [alone.select(s) for s in b]
    mixed = Retriever(_cfg(), pool, None, "test")
    b_mixed = [mixed.select(s) for pair in zip(a, b) for s in pair][1::2]
    assert b_mixed == b_alone and all(shot.group == "b" for shots in b_alone for shot in shots)


def test_pool_from_the_test_split_never_shows_the_sample_itself():
    base = _samples(6)
    pool = base + [base[1], base[1], base[4]]  # repeated rows, as real test splits have
    retriever = Retriever(_cfg(k=4), pool, None, "test", same_split=True)
    for _ in range(3):  # later passes draw further along the stream
        for sample in pool:
            shots = retriever.select(sample)
            assert len(shots) == 4 and all(s.fields != sample.fields for s in shots)


@pytest.mark.parametrize("same_split,pool_size,message", [
    (False, 2, "k=3 few-shot examples asked, the pool has 2"),
    (True, 3, "from the test split itself need 4 samples"),
])
def test_pool_too_small_is_one_line(same_split, pool_size, message):
    retriever = Retriever(_cfg(), _samples(pool_size), None, "dataset 'x'", same_split=same_split)
    with pytest.raises(CompassError, match=message) as err:
        retriever.select(_samples(1, prefix="t")[0])
    assert "\n" not in str(err.value) and str(err.value).startswith("dataset 'x'")


def test_repeats_leave_too_few_other_examples():
    same = Sample("s", {"question": "same"}, "1")
    pool = [same, same, same, Sample("o", {"question": "other"}, "2")]
    retriever = Retriever(_cfg(k=2), pool, None, "test", same_split=True)
    with pytest.raises(CompassError, match="only 1 few-shot examples differ from it, k=2 asked"):
        retriever.select(same)  # any 3 of the 4 hold two copies of the sample
