"""Exact dedup, blocklist, manifest bookkeeping (near-dup recall: test_dedup.py; PII: test_pii.py)."""
from __future__ import annotations

import json
import random

from reference_model.data.dedup import DedupConfig, dedup
from reference_model.data.records import Doc
from reference_model.data.safety import SafetyConfig, safety


def _vocab(rng: random.Random, n: int = 3000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return list({"".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(n)})


def test_exact_duplicates_ignore_case_and_whitespace():
    docs = [Doc("a", "Hello   world, this is it.", "t"), Doc("b", "hello world, THIS is it.", "t"),
            Doc("c", "Other text", "t")]
    result = dedup(docs, DedupConfig(near=False))
    assert [d.id for d in result.kept] == ["a", "c"]
    assert result.report.dropped == {"exact_duplicate": 1}


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
    assert all(0.5 <= d["quality"] <= 1 and isinstance(d["quality_reasons"], list) for d in m["documents"])
    assert sum(d["n_tokens"] for d in m["documents"]) == m["totals"]["tokens"]
    assert sum(s["n_tokens"] for s in m["shards"]) == m["totals"]["tokens"] and len(m["shards"]) > 2
    for s in m["shards"]:
        assert (tmp_path / "out" / "shards" / s["path"]).stat().st_size == s["n_tokens"] * 2  # uint16
    assert m["tokenizer"]["vocab_size"] % 64 == 0
    for stage in ("clean", "dedup", "safety"):  # every drop is explained on disk
        lines = (tmp_path / "out" / "stages" / f"{stage}.rejected.jsonl").read_text().splitlines()
        assert len(lines) == sum(s["n_dropped"] for s in stages if s["stage"] == stage)
