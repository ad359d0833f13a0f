"""Bad inputs fail softly: bad files are skipped with a reason, bad configs exit with one line."""
from __future__ import annotations

import json
from pathlib import Path

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
        (tmp_path / "in" / f"ok{i}.txt").write_text(f"Document {i} talks about the weather in the valley today. "
                                                    f"Tomorrow brings rain to the {i + 2} hills, and the rivers rise.")
    (tmp_path / "in" / "bad.txt").write_bytes(b"\x80\x81\x82 not utf8 \xc3\x28")
    cfg = {"sources": [{"type": "text", "path": str(tmp_path / "in")}], "tokenizer_vocab": 300,
           "pack": {"val_fraction": 0.0}}
    (tmp_path / "data.json").write_text(json.dumps(cfg))
    r = cli("data", "--config", str(tmp_path / "data.json"), "--out", str(tmp_path / "out"), timeout=120)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    fmt = manifest["stages"][0]
    assert fmt["counters"]["skipped_file:bad_encoding"] == 1
    assert fmt["n_out"] == 5 and manifest["totals"]["docs"] == 5  # (it once passed on an empty corpus)


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


# -- every bad input of the issue: exit 2, one line naming the key or path, nothing written ------------

def _fails_cleanly(capsys, argv: list[str], needle: str, out: Path) -> str:
    from reference_model.cli import main

    rc = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0], lines[0]
    assert not out.exists(), f"{out} was written before the input was checked"
    return lines[0]


def _data_config(tmp_path: Path, **sections) -> str:
    (tmp_path / "ok.jsonl").write_text(json.dumps({"text": "A fine document about apples and pears here."}) + "\n")
    cfg = {"sources": [{"type": "jsonl", "path": str(tmp_path / "ok.jsonl")}], "tokenizer_vocab": 300, **sections}
    (tmp_path / "data.json").write_text(json.dumps(cfg))
    return str(tmp_path / "data.json")


@pytest.mark.parametrize("source, needle", [
    ({"type": "jsonl", "path": "does/not/exist.jsonl"}, "config.sources[0].path"),
    ({"type": "jsonl", "path": "nowhere/*.jsonl"}, "config.sources[0].path"),
    ({"type": "text", "path": "."}, "config.sources[0].path"),  # the cwd (tmp_path) holds no .txt/.md/.rst
    ({"type": "synthetic", "options": {"mmlu_per_subjet": 5}}, "config.sources[0].options.mmlu_per_subjet"),
    ({"type": "jsonl"}, "config.sources[0].path"),
])
def test_data_source_that_would_give_an_empty_corpus(tmp_path, capsys, monkeypatch, source, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.json").write_text(json.dumps({"sources": [source]}))
    _fails_cleanly(capsys, ["data", "--config", "data.json", "--out", str(tmp_path / "out")], needle, tmp_path / "out")


@pytest.mark.parametrize("override, needle", [
    ("safety.pii_types=email,phonee", "config.safety.pii_types[1]"),
    ("dedup.threshold=1.5", "config.dedup.threshold"),
    ("dedup.backend=minhashx", "config.dedup.backend"),
    ("dedup.target_recall=0.9999", "config.dedup.target_recall"),
    ("safety.blocklist_file=missing.txt", "config.safety.blocklist_file"),
])
def test_data_config_values_rejected_before_work(tmp_path, capsys, override, needle):
    cfg = _data_config(tmp_path)
    _fails_cleanly(capsys, ["data", "--config", cfg, "--out", str(tmp_path / "out"), "--set", override],
                   needle, tmp_path / "out")


def test_data_missing_tokenizer_dir(tmp_path, capsys):
    cfg = _data_config(tmp_path)
    _fails_cleanly(capsys, ["data", "--config", cfg, "--out", str(tmp_path / "out"), "--tokenizer", str(tmp_path / "tok")],
                   "--tokenizer", tmp_path / "out")


def test_tokenizer_missing_input(tmp_path, capsys):
    _fails_cleanly(capsys, ["tokenizer", "--input", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "tok")],
                   "--input", tmp_path / "tok")


def test_export_missing_or_empty_checkpoint(tmp_path, capsys):
    _fails_cleanly(capsys, ["export", "--ckpt", str(tmp_path / "run"), "--out", str(tmp_path / "hf")], "--ckpt", tmp_path / "hf")
    (tmp_path / "empty_run").mkdir()
    _fails_cleanly(capsys, ["export", "--ckpt", str(tmp_path / "empty_run"), "--out", str(tmp_path / "hf")],
                   "--ckpt", tmp_path / "hf")


def test_export_missing_tokenizer(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    _fails_cleanly(capsys, ["export", "--ckpt", str(tmp_path / "run"), "--tokenizer", str(tmp_path / "tok"),
                            "--out", str(tmp_path / "hf")], "--tokenizer", tmp_path / "hf")


@pytest.mark.parametrize("flags, needle", [
    (["--model_overrides", '{"hidden_size": 66, "n_heads": 6, "n_kv_heads": 2}'], "'model_overrides'"),  # head_dim 11
    (["--model_overrides", '{"hidden_size": 64, "n_heads": 5}'], "'model_overrides'"),
    (["--model_overrides", '{"n_layerz": 3}'], "'model_overrides'"),
    (["--seq_len", "100000"], "'seq_len'"),
])
def test_pretrain_shapes_the_model_cannot_run(tmp_path, capsys, tiny_corpus, flags, needle):
    _fails_cleanly(capsys, ["pretrain", "--data", str(tiny_corpus), "--out", str(tmp_path / "run"), *flags],
                   needle, tmp_path / "run")


def test_pretrain_cuda_without_cuda(tmp_path, capsys, tiny_corpus):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    _fails_cleanly(capsys, ["pretrain", "--data", str(tiny_corpus), "--out", str(tmp_path / "run"), "--device", "cuda"],
                   "'device'", tmp_path / "run")


def test_pretrain_missing_data_writes_nothing(tmp_path, capsys):
    _fails_cleanly(capsys, ["pretrain", "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "run")],
                   "'data'", tmp_path / "run")


def test_run_shorter_than_the_default_warmup_just_runs(tmp_path, tiny_corpus):
    from reference_model.configio import build
    from reference_model.train.config import TrainConfig
    from reference_model.train.pretrain import pretrain

    cfg = build(TrainConfig, {"data": str(tiny_corpus), "out": str(tmp_path / "run"), "max_steps": 3, "seq_len": 32,
                              "micro_batch": 2, "progress": False, "plot": False, "threads": 1})
    assert cfg.warmup_steps == 3
    assert pretrain(cfg)["steps"] == 3
    assert build(TrainConfig, {"data": "d", "max_steps": 500}).warmup_steps == 10  # longer runs: unchanged default


def test_sources_with_no_readable_document_write_nothing(tmp_path, capsys):
    (tmp_path / "rows.jsonl").write_text('{"other": 1}\n{broken\n')
    (tmp_path / "data.json").write_text(json.dumps({"sources": [{"type": "jsonl", "path": str(tmp_path / "rows.jsonl")}]}))
    line = _fails_cleanly(capsys, ["data", "--config", str(tmp_path / "data.json"), "--out", str(tmp_path / "out")],
                          "config.sources", tmp_path / "out")
    assert "skipped_line:bad_json_or_missing_key 2" in line


def test_a_stage_that_drops_every_document_is_an_error_not_an_empty_corpus(tmp_path, capsys):
    from reference_model.cli import main

    cfg = _data_config(tmp_path)
    rc = main(["data", "--config", cfg, "--out", str(tmp_path / "out"), "--set", "safety.blocklist=apples"])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: config.safety: the safety stage dropped every")
    assert not (tmp_path / "out" / "manifest.json").exists() and not (tmp_path / "out" / "shards").exists()
