"""The corpus index: every n-gram of every document is found, the same tables whatever the worker count
or merge size, documents are re-read by reference, and bad or changed corpora fail in one line."""
from __future__ import annotations

import gzip
import json
import os
import random

import numpy as np
import pytest

from compass.contamination import index_build, table
from compass.contamination.check import CheckSettings, check_dataset
from compass.contamination.corpus import iter_docs, resolve
from compass.contamination.fields import SampleText
from compass.contamination.hashing import TokenHasher, ngram_hashes
from compass.contamination.index import CorpusIndex, IndexSettings
from compass.contamination.index_build import build_index
from compass.contamination.normalize import tokens
from compass.contamination.summary import summarize
from compass.errors import CompassError
from compass.stats.intervals import wilson

WORDS = [f"w{i}" for i in range(3000)]


def _docs(rng: random.Random, n: int) -> list[str]:
    return ["\n\n".join(" ".join(rng.choices(WORDS, k=rng.randint(5, 60))) for _ in range(rng.randint(1, 4)))
            for _ in range(n)]


@pytest.fixture()
def corpus(tmp_path):
    """One corpus in every input form: jsonl (with and without ids), jsonl.gz, txt, and a manifest."""
    rng = random.Random(0)
    texts = _docs(rng, 120)
    (tmp_path / "c").mkdir()
    with open(tmp_path / "c" / "a.jsonl", "w") as f:
        for i, t in enumerate(texts[:50]):
            f.write(json.dumps({"id": f"a{i}", "text": t} if i % 2 else {"text": t}) + "\n")
    with gzip.open(tmp_path / "c" / "b.jsonl.gz", "wt") as f:
        for i, t in enumerate(texts[50:90]):
            f.write(json.dumps({"id": f"b{i}", "content": t}) + "\n")
    (tmp_path / "c" / "d.txt").write_text("\n".join(texts[90:]) + "\n")
    ref = tmp_path / "refdata"
    ref.mkdir()
    (ref / "docs.jsonl").write_text("".join(json.dumps({"id": f"m{i}", "text": t}) + "\n" for i, t in enumerate(texts[:5])))
    (ref / "manifest.json").write_text(json.dumps({"manifest_version": 1, "documents": []}))
    return tmp_path, texts


def _tables(root) -> dict[str, tuple[bytes, ...]]:
    return {name: tuple((root / f"{name}.{part}").read_bytes() for part in ("keys.u64", "docs.u32", "fence.u64"))
            for name in ("n8", "n13", "lsh")}


def test_every_ngram_of_every_document_is_found_and_documents_reread(corpus):
    tmp, texts = corpus
    index = build_index([str(tmp / "c"), str(tmp / "refdata" / "manifest.json")], tmp / "idx", workers=1)
    # 50 + 40 lines, the .txt file as one segment (under 1 MB), 5 manifest documents
    assert index.meta.docs == 96 and index.meta.tokens == sum(len(tokens(t)) for t in texts + texts[:5])
    docs = list(iter_docs(resolve([str(tmp / "c"), str(tmp / "refdata" / "manifest.json")])))
    ids = index.doc_ids(list(range(len(docs))))
    assert ids[0] == "a.jsonl:1" and ids[1] == "a1" and ids[50] == "b0" and ids[90] == "d.txt:1" and ids[91] == "m0"
    reread = index.doc_texts(list(range(len(docs))))
    assert [reread[i] for i in range(len(docs))] == [d.text for d in docs]
    hasher = TokenHasher()
    for d, doc in enumerate(docs):
        ids_ = hasher.ids(tokens(doc.text))
        for n in (8, 13):
            lo, hi = index.lookup(f"n{n}", ngram_hashes(ids_, n))
            assert (hi > lo).all()
            assert all(d in index.docs(f"n{n}", a, b) or b - a == 4 for a, b in zip(lo.tolist(), hi.tolist()))
    absent = ngram_hashes(hasher.ids([f"zz{i}" for i in range(20)]), 8)
    lo, hi = index.lookup("n8", absent)
    assert (hi == lo).all()


def test_tables_do_not_depend_on_workers_chunks_or_merge_size(corpus, monkeypatch):
    tmp, _ = corpus
    build_index([str(tmp / "c")], tmp / "one", workers=1)
    monkeypatch.setattr(index_build, "CHUNK_BYTES", 2000)  # many runs, merged in many ranges
    monkeypatch.setattr(index_build, "MERGE_ENTRIES", 500)
    small = build_index([str(tmp / "c")], tmp / "many", workers=2)
    assert _tables(tmp / "one") == _tables(tmp / "many")
    assert small.meta.entries["n8"] > 10 * 500
    keys = np.fromfile(tmp / "many" / "n8.keys.u64", dtype=np.uint64)
    assert (np.diff(keys.astype(np.float64)) >= 0).all()


def test_lookups_through_small_blocks_equal_a_plain_binary_search(corpus, monkeypatch):
    """Blocks of 8 rows: keys held by several rows straddle block edges; every key is looked up."""
    tmp, texts = corpus
    (tmp / "c" / "copies.jsonl").write_text("".join(json.dumps({"text": texts[0]}) + "\n" for _ in range(6)))
    monkeypatch.setattr(table, "BLOCK", 8)
    index = build_index([str(tmp / "c")], tmp / "idx", workers=1)
    for name in ("n8", "lsh"):
        keys = np.fromfile(tmp / "idx" / f"{name}.keys.u64", dtype=np.uint64)
        assert (keys[1:] == keys[:-1]).sum() > 100  # keys held by several rows
        assert len(np.fromfile(tmp / "idx" / f"{name}.fence.u64", dtype=np.uint64)) == -(-len(keys) // 8)
        probes = np.concatenate([keys, keys + np.uint64(1), np.array([0, 2**64 - 1], dtype=np.uint64)])
        lo, hi = index.lookup(name, probes)
        assert (lo == np.searchsorted(keys, probes, side="left")).all()
        assert (hi == np.searchsorted(keys, probes, side="right")).all()


def test_a_key_keeps_the_first_documents_only(tmp_path):
    text = " ".join(f"w{i}" for i in range(20))
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"id": f"d{i}", "text": text}) + "\n" for i in range(9)))
    index = build_index([str(tmp_path / "c.jsonl")], tmp_path / "idx", IndexSettings(docs_per_ngram=3))
    lo, hi = index.lookup("n8", ngram_hashes(TokenHasher().ids(text.split()), 8))
    assert [index.docs("n8", a, b) for a, b in zip(lo.tolist(), hi.tolist())] == [[0, 1, 2]] * 13


def test_changed_corpus_files_are_refused_when_reread(corpus):
    tmp, _ = corpus
    index = build_index([str(tmp / "c" / "a.jsonl")], tmp / "idx")
    path = tmp / "c" / "a.jsonl"
    path.write_text(path.read_text() + json.dumps({"text": "more"}) + "\n")
    with pytest.raises(CompassError, match="changed since the index was built"):
        CorpusIndex(tmp / "idx").doc_texts([0])
    os.remove(path)
    with pytest.raises(CompassError, match="is gone"):
        index.doc_texts([1])


def test_bad_corpora_and_damaged_indexes_fail_in_one_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\n{"text": 3}\n')
    (tmp_path / "notes.md").write_text("x")
    (tmp_path / "other.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    cases = [([str(tmp_path / "missing.jsonl")], "no such file"), ([str(tmp_path / "notes.md")], "expected a manifest"),
             ([str(tmp_path / "other.json")], "not a refmodel data manifest"),
             ([str(tmp_path / "empty")], "no .jsonl, .jsonl.gz, .txt files"),
             ([str(tmp_path / "bad.jsonl")], r"bad.jsonl:2: field 'text' \(or 'content'\) must be a string")]
    for paths, message in cases:
        with pytest.raises(CompassError, match=message) as err:
            build_index(paths, tmp_path / "idx")
        assert "\n" not in str(err.value)
    with pytest.raises(CompassError, match="no contamination index here"):
        CorpusIndex(tmp_path / "idx")  # the failed build left no meta.json behind
    (tmp_path / "ok.jsonl").write_text('{"text": "' + " ".join(WORDS[:30]) + '"}\n')
    build_index([str(tmp_path / "ok.jsonl")], tmp_path / "idx")
    with open(tmp_path / "idx" / "n8.keys.u64", "ab") as f:
        f.write(b"\0" * 8)
    with pytest.raises(CompassError, match="table n8 is damaged"):
        CorpusIndex(tmp_path / "idx").lookup("n8", np.zeros(1, dtype=np.uint64))


def test_text_files_are_read_in_segments_cut_at_line_ends(tmp_path, monkeypatch):
    from compass.contamination import corpus as corpus_module

    monkeypatch.setattr(corpus_module, "SEGMENT_BYTES", 100)
    lines = [" ".join(random.Random(i).choices(WORDS, k=12)) for i in range(30)]
    (tmp_path / "big.txt").write_text("\n".join(lines) + "\n")
    index = build_index([str(tmp_path / "big.txt")], tmp_path / "idx")
    n = index.meta.docs
    assert 1 < n < 30
    texts = index.doc_texts(list(range(n)))
    assert "".join(texts[i] for i in range(n)) == (tmp_path / "big.txt").read_text()
    ids = index.doc_ids(list(range(n)))
    starts = [1 + "".join(texts[j] for j in range(i)).count("\n") for i in range(n)]
    assert [ids[i] for i in range(n)] == [f"big.txt:{s}" for s in starts]


def test_a_sample_too_short_to_check_is_unchecked_never_clean(tmp_path):
    long_item = "the lighthouse keeper counted seventeen gulls on the northern rocks before the storm came in"
    (tmp_path / "c.jsonl").write_text(json.dumps({"id": "d0", "text": "an unrelated story " * 20}) + "\n"
                                      + json.dumps({"id": "d1", "text": "What is 11 times 5? 55"}) + "\n")
    index = build_index([str(tmp_path / "c.jsonl")], tmp_path / "idx", workers=1)
    texts = [SampleText("short", "What is 11 times 5?", (), "55"),  # in the corpus, but under 8 tokens
             SampleText("long", long_item, (), "17")]
    short, long = check_dataset(texts, index, CheckSettings())
    assert (short.label, long.label) == ("unchecked", "clean")  # "clean" would claim a check that never ran
    summary = summarize("d", [short, long], None, ["ngram"], None, [], CheckSettings().thresholds, n=2)
    assert summary.counts == {"clean": 1, "partial": 0, "contaminated": 0, "unchecked": 1}
    assert summary.contaminated_share == 0.0 and summary.ci95 == [round(x, 4) for x in wilson(0, 1)]
