"""Bad inputs fail softly: bad files are skipped with a reason, bad configs exit with one line."""
from __future__ import annotations

import json

import pytest

from reference_model.data.records import StageReport
from reference_model.data.sources import SourceSpec, load_sources


def test_ill_encoded_and_unreadable_files_are_skipped_and_counted(tmp_path):
    (tmp_path / "good.txt").write_text("A perfectly fine document about apples and pears.")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me br\xfbl\xe9e".encode("latin-1"))
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe\x00\x81\x82garbage")
    (tmp_path / "dir.txt").mkdir()  # a directory named like a text file cannot be read as one
    (tmp_path / "rows.jsonl").write_bytes(b'{"text": "ok row here"}\n{broken json\n{"other": 1}\n\xff\xfe\n')
    report = StageReport("format")
    docs = load_sources([SourceSpec("text", path=str(tmp_path / "*.txt")),
                         SourceSpec("text", name="md", path=str(tmp_path / "*.md")),
                         SourceSpec("text", name="missing", path=str(tmp_path / "nope.txt")),
                         SourceSpec("jsonl", name="user", path=str(tmp_path / "rows.jsonl"))], report)
    assert [d.text for d in docs] == ["A perfectly fine document about apples and pears."]
    c = report.counters
    assert c["skipped_file:bad_encoding"] == 3  # latin1.txt, binary.md, rows.jsonl (has a \xff line)
    assert c["skipped_file:unreadable:IsADirectoryError"] == 1
    assert c["skipped_file:unreadable:FileNotFoundError"] == 1
    assert c["skipped_files"] == 5
    assert report.n_out == 1


def test_bad_jsonl_lines_are_counted_not_fatal(tmp_path):
    (tmp_path / "rows.jsonl").write_text('{"text": "ok row here"}\n{broken json\n{"other": 1}\n{"text": 5}\n')
    report = StageReport("format")
    docs = load_sources([SourceSpec("jsonl", path=str(tmp_path / "rows.jsonl"))], report)
    assert [d.text for d in docs] == ["ok row here"]
    assert report.counters["skipped_line:bad_json_or_missing_key"] == 2
    assert report.counters["skipped_line:text_not_a_string"] == 1


def test_data_cli_survives_bad_file(tmp_path, cli):
    (tmp_path / "in").mkdir()
    for i in range(5):
        (tmp_path / "in" / f"ok{i}.txt").write_text(f"Document {i} talks about the weather in the valley today. " * 3)
    (tmp_path / "in" / "bad.txt").write_bytes(b"\x80\x81\x82 not utf8 \xc3\x28")
    cfg = {"sources": [{"type": "text", "path": str(tmp_path / "in")}], "tokenizer_vocab": 300,
           "pack": {"val_fraction": 0.0}}
    (tmp_path / "data.json").write_text(json.dumps(cfg))
    r = cli("data", "--config", str(tmp_path / "data.json"), "--out", str(tmp_path / "out"), timeout=120)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    fmt = manifest["stages"][0]
    assert fmt["counters"]["skipped_file:bad_encoding"] == 1
    assert fmt["n_out"] == 5


@pytest.mark.parametrize("flags, key", [
    (["--lr", "fast"], "lr"),
    (["--set", "warmup_stepz=3"], "warmup_stepz"),
    (["--micro_batch", "0"], "micro_batch"),
    (["--warmup_steps", "50", "--max_steps", "10"], "warmup_steps"),
    (["--model", "gigantic"], "model"),
    ([], "data"),  # tmp_path holds no manifest.json
])
def test_bad_training_config_exits_with_one_line_naming_the_key(tmp_path, capsys, flags, key):
    from reference_model.cli import main

    rc = main(["pretrain", "--data", str(tmp_path), "--out", str(tmp_path / "run"), *flags])
    assert rc == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert (f"'{key}'" in lines[0] or f"config.{key}:" in lines[0]) and lines[0].startswith("error:")


def test_bad_config_file_exits_nonzero_with_one_line_no_traceback(tmp_path, cli):
    (tmp_path / "train.json").write_text(json.dumps({"data": str(tmp_path), "max_steps": "many"}))
    r = cli("pretrain", "--config", str(tmp_path / "train.json"), timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == ["error: config.max_steps: expected int, got str 'many'"]
