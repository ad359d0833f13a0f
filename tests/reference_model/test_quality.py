"""The quality score separates natural prose and code from word salad, boilerplate and repetition."""
from __future__ import annotations

import statistics

import pytest

from reference_model.data.quality import QualityConfig, quality
from reference_model.data.quality_rules import evaluate
from reference_model.data.quality_set import auroc, labelled_set
from reference_model.data.records import Doc


@pytest.fixture(scope="module")
def scored():
    items = labelled_set(n_per_category=200, seed=0)
    return [(it, *evaluate(it.text, it.kind)) for it in items]


def test_labelled_set_has_200_of_each_category(scored):
    counts: dict[str, int] = {}
    for it, _, _ in scored:
        counts[it.category] = counts.get(it.category, 0) + 1
    assert set(counts) == {"prose", "code", "salad", "boilerplate", "repetition"}
    assert min(counts.values()) >= 200, counts


def test_quality_score_auroc(scored):
    scores, labels = [s for _, s, _ in scored], [it.label for it, _, _ in scored]
    assert auroc(scores, labels) >= 0.95
    for split in ("dev", "test"):
        sub = [(s, it.label) for it, s, _ in scored if it.split == split]
        assert auroc([s for s, _ in sub], [y for _, y in sub]) >= 0.95, split


def test_salad_fails_and_real_documentation_passes_at_the_default_threshold(scored):
    by: dict[str, list[float]] = {}
    for it, s, _ in scored:
        by.setdefault(it.category, []).append(s)
    assert statistics.median(by["prose"]) >= 0.9 and statistics.median(by["code"]) >= 0.9
    for bad in ("salad", "boilerplate", "repetition"):
        assert sum(s >= 0.5 for s in by[bad]) <= 0.05 * len(by[bad]), bad


def test_auroc_is_the_rank_statistic():
    assert auroc([0.9, 0.8, 0.1], [1, 1, 0]) == 1.0
    assert auroc([0.1, 0.2, 0.9], [1, 1, 0]) == 0.0
    assert auroc([0.5, 0.5], [1, 0]) == 0.5


def test_stage_stores_score_and_reasons_and_uses_per_source_thresholds():
    prose = ("The river runs through the old town, and the bridges that cross it were built in the last century. "
             "Most of them are made of stone, and a few of them still carry the trams that link the two banks.")
    salad = " ".join(["the of and", "a to in", "the the", "is of a"] * 10)
    docs = [Doc("p", prose, "web"), Doc("s", salad, "web"), Doc("t", salad, "templated")]
    result = quality(docs, QualityConfig(per_source_threshold={"templated": 0.0}))
    kept = {d.id: d for d in result.kept}
    assert set(kept) == {"p", "t"}
    assert kept["p"].meta["quality"] == 1.0 and kept["p"].meta["quality_reasons"] == []
    assert kept["t"].meta["quality"] < 0.5 and kept["t"].meta["quality_reasons"]
    (doc, reason), = result.rejected
    assert doc.id == "s" and reason.startswith("low_quality:") and "dup" in reason
