"""Dedup recall/precision on planted near-duplicates, PII masking, manifest bookkeeping."""
from __future__ import annotations

import json
import random

import pytest

from reference_model.data.dedup import DedupConfig, dedup
from reference_model.data.minhash import shingle_keys
from reference_model.data.records import Doc
from reference_model.data.safety import SafetyConfig, safety


def _vocab(rng: random.Random, n: int = 3000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return list({"".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(n)})


def _edit(rng: random.Random, words: list[str], vocab: list[str], n_edits: int) -> list[str]:
    out = words[:]
    for _ in range(n_edits):
        i = rng.randrange(len(out))
        op = rng.choice(["sub", "ins", "del"])
        if op == "sub":
            out[i] = rng.choice(vocab)
        elif op == "ins":
            out.insert(i, rng.choice(vocab))
        else:
            del out[i]
    return out


def _jaccard(a: str, b: str, n: int = 5) -> float:
    x, y = set(shingle_keys(a, n).tolist()), set(shingle_keys(b, n).tolist())
    return len(x & y) / len(x | y)


def planted_corpus(seed: int = 0, n_base: int = 300):
    """Distinct docs, near-duplicates (J >= 0.8 by construction, measured) and hard negatives (J ~ 0.3-0.5)."""
    rng = random.Random(seed)
    vocab = _vocab(rng)
    docs, is_dup = [], []
    bases = []
    for i in range(n_base):
        words = [rng.choice(vocab) for _ in range(rng.randint(120, 250))]
        bases.append(words)
        docs.append(Doc(f"base{i}", " ".join(words), "t"))
        is_dup.append(False)
    for i in range(n_base):  # near-duplicates of the first half... and of all bases, some twice
        base = bases[i]
        for k in range(1 + (i % 3 == 0)):
            text = " ".join(_edit(rng, base, vocab, rng.randint(0, 3)))
            if rng.random() < 0.3:
                text = text.upper()  # case changes must not hide a duplicate
            docs.append(Doc(f"near{i}.{k}", text, "t"))
            is_dup.append(_jaccard(text, docs[i].text) >= 0.8)
    for i in range(0, n_base, 3):  # hard negatives: half the words replaced -> J well below 0.8
        base = bases[i]
        words = [w if j % 2 else rng.choice(vocab) for j, w in enumerate(base)]
        docs.append(Doc(f"half{i}", " ".join(words), "t"))
        is_dup.append(False)
    # Originals come first, so "keep the earliest of a cluster" means keeping exactly the originals.
    return docs, is_dup


@pytest.mark.parametrize("backend", ["numpy", "datasketch"])
def test_dedup_recall_and_precision_on_planted_near_duplicates(backend):
    docs, is_dup = planted_corpus()
    truth = {d.id for d, dup in zip(docs, is_dup) if dup}
    assert len(truth) > 300
    result = dedup(docs, DedupConfig(backend=backend))
    removed = {d.id for d, _ in result.rejected}
    recall = len(removed & truth) / len(truth)
    precision = len(removed & truth) / max(len(removed), 1)
    assert recall >= 0.95, recall
    assert precision >= 0.95, precision
    kept = {d.id for d in result.kept}
    assert all(f"base{i}" in kept for i in range(300)), "an original (distinct) document was removed"
    assert sum(d.id.startswith("half") for d in result.kept) >= 0.95 * sum(d.id.startswith("half") for d in docs)
    r = result.report
    assert r.n_in - sum(r.dropped.values()) == r.n_out == len(result.kept)


def test_exact_duplicates_ignore_case_and_whitespace():
    docs = [Doc("a", "Hello   world, this is it.", "t"), Doc("b", "hello world, THIS is it.", "t"),
            Doc("c", "Other text", "t")]
    result = dedup(docs, DedupConfig(near=False))
    assert [d.id for d in result.kept] == ["a", "c"]
    assert result.report.dropped == {"exact_duplicate": 1}


PII_FIXTURES = [
    ("Contact jane.doe+news@example.co.uk for details.", "email", "jane.doe"),
    ("Call me at +1 (415) 555-0132 tomorrow.", "phone", "555-0132"),
    ("Office: 020 7946 0958.", "phone", "7946"),
    ("The server at 192.168.10.254 is down.", "ip", "192.168.10.254"),
    ("IPv6 fe80:0:0:0:202:b3ff:fe1e:8329 too", "ip", "fe1e"),
    ("export OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz123456", "api_key", "abcdefghijklmnop"),
    ("aws AKIAIOSFODNN7EXAMPLE here", "api_key", "AKIAIOSFODNN7EXAMPLE"),
    ("token: ghp_0123456789abcdefghijABCDEFGHIJ0123456789", "api_key", "ghp_0123"),
    ('config = {"api_key": "Zx81Qm29Lp47Rt56Wv03"}', "api_key", "Zx81Qm29Lp47Rt56Wv03"),
]
NOT_PII = ["Ana has 12 + 345 = 357 apples.", "Version 3.11.7 was released in 2023-10-02.",
           "The answer is 1234567.", "Pi is about 3.14159 and e about 2.71828."]


def test_pii_fixtures_are_masked_and_numbers_are_not():
    docs = [Doc(f"p{i}", t, "t") for i, (t, _, _) in enumerate(PII_FIXTURES)]
    docs += [Doc(f"n{i}", t, "t") for i, t in enumerate(NOT_PII)]
    result = safety(docs, SafetyConfig())
    by_id = {d.id: d.text for d in result.kept}
    for i, (text, kind, secret) in enumerate(PII_FIXTURES):
        masked = by_id[f"p{i}"]
        assert secret not in masked, (text, masked)
        assert f"<{'IP_ADDRESS' if kind == 'ip' else kind.upper()}>" in masked, (text, masked)
    for i, text in enumerate(NOT_PII):
        assert by_id[f"n{i}"] == text
    assert result.report.counters["docs_masked"] == len(PII_FIXTURES)


def test_blocklist_drops_whole_words_case_insensitively(tmp_path):
    (tmp_path / "block.txt").write_text("# comment\nforbidden phrase\n")
    docs = [Doc("a", "This has a Forbidden Phrase inside.", "t"), Doc("b", "Nothing forbiddenphrase here", "t"),
            Doc("c", "Mentions badword once", "t")]
    result = safety(docs, SafetyConfig(blocklist=["badword"], blocklist_file=str(tmp_path / "block.txt")))
    assert [d.id for d in result.kept] == ["b"]
    assert result.report.dropped == {"blocklist": 2}


def test_manifest_counts_add_up(tmp_path):
    from reference_model.configio import build
    from reference_model.data.pipeline import DataConfig, run

    rng = random.Random(1)
    vocab = _vocab(rng, 800)
    rows = []
    for _ in range(60):
        words = [rng.choice(vocab) for _ in range(60)]
        rows.append(" ".join(words) + ". The end of the story is near, and the day is over.")
    rows += [rows[0], rows[1].replace(" ", "  "), rows[2] + " extra"]   # 2 exact + 1 near duplicate
    rows += ["short", "alpha @@@ beta ### gamma $$$ delta %%% eps ^^^ zeta &&& eta *** theta ~~~ iota",  # too short, symbols
             "Mail bob@example.com about the plan for the day, the team is ready.",  # PII, kept
             "This one mentions the badword and should go away from the corpus."]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in rows))
    cfg = build(DataConfig, {"sources": [{"type": "jsonl", "path": str(tmp_path / "in.jsonl")}],
                             "safety": {"blocklist": ["badword"]}, "tokenizer_vocab": 300,
                             "pack": {"val_fraction": 0.1, "shard_tokens": 2000}})
    m = run(cfg, tmp_path / "out", log=lambda *_: None)
    stages = m["stages"]
    assert [s["stage"] for s in stages] == ["format", "clean", "dedup", "safety", "quality", "pack"]
    assert stages[0]["n_out"] == len(rows)
    for prev, cur in zip(stages, stages[1:]):
        assert cur["n_in"] == prev["n_out"], (prev["stage"], cur["stage"])
        assert cur["n_in"] - cur["n_dropped"] == cur["n_out"], cur["stage"]
    assert stages[1]["dropped"] == {"too_short_chars": 1, "symbol_ratio": 1}
    assert stages[2]["dropped"] == {"exact_duplicate": 2, "near_duplicate": 1}
    assert stages[3]["dropped"] == {"blocklist": 1} and stages[3]["counters"]["masked:email"] == 1
    docs = [json.loads(x) for x in (tmp_path / "out" / "docs.jsonl").read_text().splitlines()]
    assert len(docs) == len(m["documents"]) == m["totals"]["docs"] == stages[4]["n_out"]
    assert {d["id"] for d in docs} == {d["id"] for d in m["documents"]}
    assert sum(d["n_tokens"] for d in m["documents"]) == m["totals"]["tokens"]
    assert sum(s["n_tokens"] for s in m["shards"]) == m["totals"]["tokens"] and len(m["shards"]) > 2
    for s in m["shards"]:
        assert (tmp_path / "out" / "shards" / s["path"]).stat().st_size == s["n_tokens"] * 2  # uint16
    assert m["tokenizer"]["vocab_size"] % 64 == 0
    for stage in ("clean", "dedup", "safety"):  # every drop is explained on disk
        lines = (tmp_path / "out" / "stages" / f"{stage}.rejected.jsonl").read_text().splitlines()
        assert len(lines) == sum(s["n_dropped"] for s in stages if s["stage"] == stage)
