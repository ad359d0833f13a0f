"""Loaders read the official layouts; malformed data is one line naming the file and the row."""
from __future__ import annotations

import json

import pytest

from compass.datasets import gsm8k, mmlu
from compass.errors import CompassError
from compass.synthetic import MMLU_SUBJECTS, gsm8k_items, mmlu_items, split_of

from helpers import compass, error_line, gsm8k_dataset, mmlu_dataset, write_config


def test_mmlu_official_layout(mini_data):
    data = mmlu.load(str(mini_data["mmlu"]), None)
    assert len(data.test) == 12 and len(data.fewshot) == 6
    first = data.test[0]
    assert first.id == "elementary_arithmetic/0" and first.group == "elementary_arithmetic"
    assert set(first.fields) >= {"question", "A", "B", "C", "D", "subject"} and first.gold in "ABCD"
    only = mmlu.load(str(mini_data["mmlu"]), "unit_conversion")
    assert {s.group for s in only.test} == {"unit_conversion"}


def test_gsm8k_layout_and_answer_parsing(mini_data):
    data = gsm8k.load(str(mini_data["gsm8k"]))
    assert len(data.test) == 8 and len(data.fewshot) == 3
    row = json.loads((mini_data["gsm8k"] / "test.jsonl").read_text().splitlines()[0])
    assert data.test[0].gold == row["answer"].rsplit("####", 1)[1].strip()
    assert "<<" not in data.test[0].fields["answer"] and data.test[0].fields["answer"].endswith(".")
    assert gsm8k.parse_answer("a\n#### 1,234", "x") == ("a\nThe answer is 1234.", "1234")


def _csv(mini_data, split="test", subject="elementary_arithmetic"):
    return mini_data["mmlu"] / "data" / split / f"{subject}_{split}.csv"


@pytest.mark.parametrize("edit,expected", [
    (lambda lines: lines.__setitem__(2, lines[2].rsplit(",", 1)[0]), r"_test.csv:3: expected 6 columns"),
    (lambda lines: lines.__setitem__(1, lines[1][:-1] + "E"), r"_test.csv:2: column 'answer' is 'E'"),
])
def test_mmlu_malformed_rows(mini_data, edit, expected):
    path = _csv(mini_data)
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CompassError, match=expected):
        mmlu.load(str(mini_data["mmlu"]), None)


def test_mmlu_missing_file_and_bad_encoding(mini_data):
    _csv(mini_data, "dev").unlink()
    with pytest.raises(CompassError, match=r"elementary_arithmetic_dev.csv: missing MMLU file"):
        mmlu.load(str(mini_data["mmlu"]), None)
    _csv(mini_data, "test", "unit_conversion").write_bytes(b"\xff\xfe bad,a,b,c,d,A\n")
    with pytest.raises(CompassError, match=r"unit_conversion_test.csv: not UTF-8"):
        mmlu.load(str(mini_data["mmlu"]), "unit_conversion")


@pytest.mark.parametrize("line,expected", [
    ('{"question": "q", "answer": "x #### 3"', r"test.jsonl:2: not valid JSON"),
    ('{"question": "q"}', r"test.jsonl:2: missing field 'answer'"),
    ('{"question": "q", "answer": "no final answer"}', r"test.jsonl row 2: field 'answer' has no '####"),
    ('[1, 2]', r"test.jsonl:2: expected a JSON object"),
])
def test_gsm8k_malformed_lines(mini_data, line, expected):
    path = mini_data["gsm8k"] / "test.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = line
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CompassError, match=expected):
        gsm8k.load(str(mini_data["gsm8k"]))


def test_gsm8k_missing_split(tmp_path):
    (tmp_path / "g").mkdir()
    with pytest.raises(CompassError, match=r"g/test.jsonl: missing GSM8K file"):
        gsm8k.load(str(tmp_path / "g"))


def test_hub_name_offline_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(CompassError, match=r"openai/gsm8k: not a local GSM8K file or directory and not loadable"):
        gsm8k.load("openai/gsm8k")


def test_bad_data_through_the_cli(tmp_path, mini_data, tiny_model):
    path = mini_data["gsm8k"] / "test.jsonl"
    path.write_text(path.read_text() + "{broken\n")
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model))],
                       [gsm8k_dataset(mini_data["gsm8k"])])
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 2
    line = error_line(proc)
    assert "datasets[0] (gsm8k-mini)" in line and "test.jsonl:9: not valid JSON" in line
    assert not (tmp_path / "outputs").exists()  # nothing started


def test_input_columns_are_checked(tmp_path, mini_data):
    from compass.config import load_config
    from compass.datasets import load

    ds = mmlu_dataset(mini_data["mmlu"])
    ds["reader_cfg"]["input_columns"] = ["question", "E"]
    cfg = load_config(write_config(tmp_path / "c.py", [dict(abbr="m", path="x")], [ds]))
    with pytest.raises(CompassError, match=r"input_columns names 'E'"):
        load(cfg.datasets[0])


def test_synthetic_splits_are_disjoint():
    for subject in MMLU_SUBJECTS:
        train = {i.question + "|".join(i.choices) for i in mmlu_items(subject, "train", 100)}
        test = {i.question + "|".join(i.choices) for i in mmlu_items(subject, "test", 30)}
        assert not train & test
    assert not {r["question"] for r in gsm8k_items("train", 300)} & {r["question"] for r in gsm8k_items("test", 100)}
    assert {split_of(str(i)) for i in range(200)} == {"train", "dev", "val", "test"}
