"""Near-duplicate dedup against its documented guarantee, on a corpus planted at controlled Jaccard."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from reference_model.data.dedup import DedupConfig, dedup
from reference_model.data.minhash import pair_recall
from reference_model.data.planted import LEVELS, planted_corpus, score

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reference_model.md"


@pytest.fixture(scope="module")
def corpus():
    return planted_corpus(n_base=150, n_with_variants=120, n_templated=30, seed=3)


def test_planted_levels_sit_at_their_jaccard(corpus):
    s = score(corpus, set())
    for level in LEVELS:
        assert level - 0.03 <= s.min_jaccard[level] and s.max_jaccard[level] <= level + 0.03, level


@pytest.mark.parametrize("backend", ["numpy", "datasketch"])
def test_recall_at_0_8_and_nothing_removed_at_0_5_or_distinct(corpus, backend):
    result = dedup(corpus.docs, DedupConfig(backend=backend))
    removed = {d.id for d, _ in result.rejected}
    s = score(corpus, removed)
    assert s.recall_at_least(0.8, corpus, removed) >= 0.95, s.removed_by_level
    assert s.recall(0.9) >= 0.95 and s.recall(0.8) >= 0.95, s.removed_by_level
    assert s.removed_by_level[0.5][0] == 0, "a pair with Jaccard ~0.5 was removed"
    assert s.distinct_removed == [], "a distinct document was removed"
    r = result.report
    assert r.n_in - sum(r.dropped.values()) == r.n_out == len(result.kept)


def test_default_banding_meets_the_stated_recall_and_the_old_one_did_not():
    cfg = DedupConfig()
    b, r = cfg.bands_rows()
    assert b * r <= cfg.num_perm
    assert pair_recall(cfg.recall_at, b, r, cfg.threshold, cfg.num_perm) >= cfg.target_recall
    # The banding that the issue measured (14 bands x 9 rows) promised > 99 % and gave 0.87.
    assert pair_recall(0.8, 14, 9, 0.7, 128) < 0.9


def test_docs_state_the_banding_and_recall_the_code_uses():
    cfg = DedupConfig()
    b, r = cfg.bands_rows()
    text = DOCS.read_text()
    assert f"{b} bands × {r} rows" in text
    stated = re.search(r"finds a pair of Jaccard ([0-9.]+) with probability ≥ ([0-9.]+)", text)
    assert stated and float(stated.group(1)) == cfg.recall_at and float(stated.group(2)) == cfg.target_recall
