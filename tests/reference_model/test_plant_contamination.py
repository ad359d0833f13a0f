"""``refmodel data`` plants benchmark items on request (``plant``), records which survived the stages,
and ``compass contamination`` on the resulting manifest finds exactly those items (issue 15, "the
reference pipeline integrates it")."""
from __future__ import annotations

import json
import pprint
import re
from pathlib import Path

import pytest

from compass import records
from compass.config import load_config
from compass.contamination.fields import sample_texts
from compass.contamination.minisets import dataset_dicts, write_minisets
from compass.contamination.planting import Filler, content_key
from compass.datasets import load
from compass.records import ContaminationLabel
from reference_model.cli import main as refmodel
from tests.helpers import compass

SETS = ("mmlu-mini", "gsm8k-mini", "ceval-mini", "math-mini", "humaneval-mini")


def _project(root: Path, plant: dict) -> Path:
    """Mini benchmarks, an eval config over them, random-word web documents and a data config."""
    write_minisets(root / "data")
    model = dict(abbr="m", type="OpenAI", path="m", api_base="http://127.0.0.1:9/v1", api_key_env="NO_KEY")
    (root / "eval.py").write_text(f"models = {pprint.pformat([model])}\n"
                                  f"datasets = {pprint.pformat(list(dataset_dicts(root / 'data').values()))}\n")
    filler = Filler(1)
    with (root / "web.jsonl").open("w") as f:
        for i in range(60):
            f.write(json.dumps({"id": f"web-{i}", "text": "\n\n".join(filler.paragraphs(200))}) + "\n")
    cfg = {"sources": [{"type": "jsonl", "name": "web", "path": str(root / "web.jsonl")}], "tokenizer_vocab": 300,
           "quality": {"per_source_threshold": {"web": 0.0}}, "plant": {"config": str(root / "eval.py"), **plant}}
    (root / "data.json").write_text(json.dumps(cfg))
    return root / "data.json"


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", text)


def _planted(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "planted.jsonl").read_text().splitlines()]


def test_planted_items_are_found_and_the_rest_is_not_contaminated(tmp_path, capsys):
    cfg = _project(tmp_path, {"share": 0.5, "edited_share": 0.5, "seed": 3})
    assert refmodel(["data", "--config", str(cfg), "--out", str(tmp_path / "corpus")]) == 0
    capsys.readouterr()
    manifest = json.loads((tmp_path / "corpus" / "manifest.json").read_text())
    rows = _planted(tmp_path / "corpus")
    assert manifest["planted"]["copies"] == len(rows) == manifest["planted"]["kept"]  # the defaults keep them all
    kept_ids = {d["id"] for d in manifest["documents"]}
    assert all(r["kept"] and r["doc_id"] in kept_ids and not r["dropped_at"] for r in rows)

    proc = compass("contamination", "eval.py", "--corpus", "corpus/manifest.json", "-o", "labels", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for abbr in SETS:
        planted = [r for r in rows if r["dataset"] == abbr]
        kinds = [r["kind"] for r in planted]
        assert abs(kinds.count("edited") - kinds.count("verbatim")) <= 1 and len(planted) >= 10
        labels = records.read_lines(tmp_path / "labels" / f"{abbr}.jsonl", ContaminationLabel)
        assert manifest["planted"]["datasets"][abbr]["items"] == len(planted) == round(len(labels) / 2)
        # Truth: the planted items, and any item whose normalised content equals a planted one
        # (templated items differing in a one-letter word are one item to every method).
        ds = next(d for d in load_config(tmp_path / "eval.py").datasets if d.abbr == abbr)
        items = sample_texts(ds, load(ds).test)
        ids = {r["sample_id"] for r in planted}
        keys = {content_key(t) for t in items if t.id in ids}
        truth = {t.id for t in items if content_key(t) in keys}
        flagged = {r.id for r in labels if r.label == "contaminated"}
        precision, recall = len(flagged & truth) / max(len(flagged), 1), len(flagged & truth) / len(truth)
        assert precision >= 0.95 and recall >= 0.95, (abbr, precision, recall)
        assert ids <= flagged, (abbr, sorted(ids - flagged))  # every planted item, verbatim or edited
        summary = json.loads((tmp_path / "labels" / f"{abbr}.summary.json").read_text())
        assert summary["counts"]["contaminated"] == len(flagged)
        # The rest: clean, or partial where the item shares its template with a planted one (the
        # matched document is a planted copy, never a web document).
        for r in labels:
            if r.id not in truth:
                assert r.label != "contaminated", (abbr, r.id)
                if r.label == "partial":
                    assert r.document is not None and r.document.startswith("planted/"), (abbr, r.id, r.document)
        # Most of the rest is clean. Not counted: items whose answer is a planted answer with other
        # numbers (HumanEval's synthetic solutions come from a few makers that differ in a constant,
        # "n % 5" vs "n % 7"): their answer is in the corpus but for its numbers, which is partial.
        planted_shapes = {_shape(t.answer) for t in items if t.id in ids and len(t.answer) >= 20}
        twins = {t.id for t in items if t.id not in truth and _shape(t.answer) in planted_shapes}
        rest = [r for r in labels if r.id not in truth and r.id not in twins]
        assert sum(r.label == "clean" for r in rest) >= 0.75 * len(rest), abbr


def test_copies_the_stages_drop_are_reported(tmp_path, capsys):
    """Two copies of each item with the clean and quality exemptions off: identical copies are exact
    duplicates and some items fail the prose rules; planted.jsonl says which stage dropped which."""
    cfg = _project(tmp_path, {"datasets": ["mmlu-mini", "gsm8k-mini"], "copies": 2, "share": 1.0, "keep": False})
    assert refmodel(["data", "--config", str(cfg), "--out", str(tmp_path / "corpus")]) == 0
    capsys.readouterr()
    rows = _planted(tmp_path / "corpus")
    assert {r["dataset"] for r in rows} == {"mmlu-mini", "gsm8k-mini"} and len(rows) == 2 * (100 + 60)
    dropped = [r for r in rows if not r["kept"]]
    assert dropped and all(r["dropped_at"].split(":")[0] in ("clean", "dedup", "quality") for r in dropped)
    assert any(r["dropped_at"].startswith("dedup:") for r in dropped)
    manifest = json.loads((tmp_path / "corpus" / "manifest.json").read_text())
    assert manifest["planted"]["kept"] == len(rows) - len(dropped)
    kept_ids = {d["id"] for d in manifest["documents"]}
    assert {r["doc_id"] for r in rows if r["kept"]} <= kept_ids
    assert not {r["doc_id"] for r in dropped} & kept_ids


@pytest.mark.parametrize("override, needle", [
    ("plant.share=0", "config.plant.share"),
    ("plant.share=1.5", "config.plant.share"),
    ("plant.edited_share=-0.1", "config.plant.edited_share"),
    ("plant.copies=0", "config.plant.copies"),
    ("plant.config=missing.py", "config.plant.config"),
    ("plant.datasets=mmlu-mini,nope", "config.plant.datasets[1]"),
    ("plant.source=web", "config.plant.source"),
    ("plant.sharez=0.5", "plant.sharez"),
])
def test_bad_plant_settings_exit_2_with_one_line(tmp_path, capsys, override, needle):
    cfg = _project(tmp_path, {})
    rc = refmodel(["data", "--config", str(cfg), "--out", str(tmp_path / "out"), "--set", override])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(err) == 1 and err[0].startswith("error:") and needle in err[0], err
    assert not (tmp_path / "out").exists()


def test_plant_datasets_without_a_config(tmp_path, capsys):
    cfg = _project(tmp_path, {})
    raw = json.loads(cfg.read_text())
    raw["plant"] = {"datasets": ["mmlu-mini"]}
    cfg.write_text(json.dumps(raw))
    assert refmodel(["data", "--config", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config.plant.config" in err[0]
