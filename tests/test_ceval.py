"""C-Eval: the official layout, category leaderboard rows (both averages), answer-letter extraction, end to end."""
from __future__ import annotations

import csv

import pytest

from compass.config import ComponentCfg, EvalCfg, EvaluatorCfg, SummarizerCfg, SummaryGroup, read_python_config
from compass.datasets import ceval
from compass.errors import CompassError
from compass.evaluators.postprocess import option_letter
from compass.store import RunDir
from compass.summarize import tables
from compass.synthetic import CEVAL_MINI_VAL_COUNTS, ceval_items, write_ceval

from helpers import (
    REPO,
    compass,
    error_line,
    predictions_of,
    result_of,
    score_rows,
    scored_of,
    write_config,
    write_result,
)

SUMMARIZER = read_python_config(REPO / "summarizers" / "ceval.py")


@pytest.fixture()
def ceval_mini(tmp_path):
    return write_ceval(tmp_path / "ceval", n_test=2)


def _repo_datasets(config: str, path, **changes) -> list[dict]:
    """The shipped dataset configs, pointed at ``path``."""
    return [dict(d, path=str(path), **changes) for d in read_python_config(REPO / "datasets_cfg" / "ceval" / config)
            ["ceval_datasets"]]


# -- end to end --------------------------------------------------------------------------------

def test_ceval_end_to_end_with_category_rows(tmp_path, ceval_mini, tiny_model):
    datasets = _repo_datasets("ceval_mini_ppl.py", ceval_mini)
    gen = _repo_datasets("ceval_mini_gen.py", ceval_mini)[4]  # logic, by generation
    gen.update(abbr="ceval-mini-gen-logic")
    gen["infer_cfg"]["inferencer"]["max_out_len"] = 4
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model), batch_size=8)],
                       [*datasets, gen], summarizer=dict(summary_groups=SUMMARIZER["ceval_mini_summary_groups"]))
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    accuracy, n = {}, {}
    for subject, count in CEVAL_MINI_VAL_COUNTS.items():
        result = result_of(run, "tiny", f"ceval-mini-{subject}")
        assert result.n == count and set(result.breakdown) == {subject}
        accuracy[subject], n[subject] = result.metrics["accuracy"], count
        rows = predictions_of(run, "tiny", f"ceval-mini-{subject}")
        assert sorted(r.id for r in rows) == sorted(f"{subject}/{i}" for i in range(count))
        zh = ceval.SUBJECTS[subject][0]
        assert all(r.prompt.startswith(f"以下是中国关于{zh}考试的单项选择题") and r.prompt.count("答案：") == 6
                   for r in rows)  # 5 shots from dev, then the question
    gen_rows = scored_of(run, "tiny", "ceval-mini-gen-logic")
    assert all(r.extracted in ("", "A", "B", "C", "D") and isinstance(r.correct, bool) for r in gen_rows)

    # Category, Hard and overall rows, each as a mean of subjects and as a mean of questions.
    summary = {row[0]: row for row in csv.reader((run / "summary" / "summary.csv").read_text().splitlines())}
    categories = {"stem": ["advanced_mathematics", "high_school_physics"], "hard": ["advanced_mathematics",
                  "high_school_physics"], "social-science": ["college_economics", "middle_school_geography"],
                  "humanities": ["logic", "modern_chinese_history"], "other": ["accountant", "physician"]}
    categories["all"] = list(CEVAL_MINI_VAL_COUNTS)
    for name, subjects in categories.items():
        prefix = "ceval-mini" if name == "all" else f"ceval-mini-{name}"
        by_subject = sum(accuracy[s] for s in subjects) / len(subjects)
        by_question = sum(accuracy[s] * n[s] for s in subjects) / sum(n[s] for s in subjects)
        assert summary[f"{prefix}-subject-avg"][1:3] == ["average", f"{100 * by_subject:.2f}"]
        assert summary[f"{prefix}-question-avg"][1:3] == ["weighted average", f"{100 * by_question:.2f}"]
    text = (run / "summary" / "summary.txt").read_text()
    assert "ceval-mini-humanities-question-avg" in text and text in proc.stdout


def test_summary_groups_weight_subjects_or_questions(tmp_path):
    """Hand-made results for all 52 subjects: each row's value is known exactly."""
    groups = SUMMARIZER["ceval_summary_groups"]
    counts = SUMMARIZER["ceval_val_counts"]
    run = RunDir(tmp_path / "run")
    correct = {s: i % (counts[s] + 1) for i, s in enumerate(ceval.SUBJECTS)}  # varied, some 0
    for s in ceval.SUBJECTS:
        write_result(run, "m", f"ceval-{s}", counts[s], correct[s] / counts[s])
    summarizer = SummarizerCfg(summary_groups=[SummaryGroup(**g) for g in groups])
    table = tables.collect([tables.Column("m", run, "m")], [f"ceval-{s}" for s in ceval.SUBJECTS], summarizer)
    rows = {name: (metric, cells["m"]) for name, metric, cells in table.rows}
    members = {"stem": ceval.STEM, "social-science": ceval.SOCIAL_SCIENCE, "humanities": ceval.HUMANITIES,
               "other": ceval.OTHER}
    sets = {f"ceval-{k}": [s for s, (_, c) in ceval.SUBJECTS.items() if c == cat] for k, cat in members.items()}
    sets |= {"ceval-hard": list(ceval.HARD), "ceval": list(ceval.SUBJECTS)}
    assert len(sets["ceval-stem"]) == 20 and len(sets["ceval-hard"]) == 8
    for name, subjects in sets.items():
        metric, cell = rows[f"{name}-subject-avg"]
        assert metric == "average" and cell.value == pytest.approx(sum(correct[s] / counts[s] for s in subjects)
                                                                   / len(subjects))
        metric, cell = rows[f"{name}-question-avg"]
        assert metric == "weighted average"
        assert cell.value == pytest.approx(sum(correct[s] for s in subjects) / sum(counts[s] for s in subjects))
        assert cell.n == sum(counts[s] for s in subjects)


def test_tables_agree_across_config_and_package():
    """summarizers/ceval.py cannot import the package: its copy of the subject table must match."""
    assert sorted(SUMMARIZER["ceval_subjects"]) == sorted(ceval.SUBJECTS) and len(ceval.SUBJECTS) == 52
    for category, subjects in SUMMARIZER["ceval_categories"].items():
        assert {s for s, (_, c) in ceval.SUBJECTS.items() if c == category} == set(subjects)
    assert sorted(SUMMARIZER["ceval_hard"]) == sorted(ceval.HARD)
    assert set(SUMMARIZER["ceval_val_counts"]) == set(ceval.SUBJECTS)
    assert sum(SUMMARIZER["ceval_val_counts"].values()) == 1346  # the official val split
    assert SUMMARIZER["ceval_mini_val_counts"] == CEVAL_MINI_VAL_COUNTS
    full = read_python_config(REPO / "datasets_cfg" / "ceval" / "ceval_ppl.py")
    abbrs = [d["abbr"] for d in full["ceval_datasets"]]
    assert abbrs == [f"ceval-{s}" for s in SUMMARIZER["ceval_subjects"]]
    assert {a for g in full["ceval_summary_groups"] for a in g["subsets"]} == set(abbrs)
    gen = read_python_config(REPO / "datasets_cfg" / "ceval" / "ceval_gen.py")["ceval_datasets"]
    assert [d["abbr"] for d in gen] == abbrs and gen[0]["eval_cfg"]["pred_postprocessor"]["type"] == "option_letter"


# -- answer extraction for generation -----------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("答案是 B", "B"), ("答案：C", "C"), ("答案: D。", "D"), ("正确答案为（Ｂ）", "B"), ("答案应该是（C）", "C"),
    ("选B", "B"), ("我选择A。", "A"), ("根据题意，应选D项。", "D"), ("故本题选C", "C"), ("答案选D", "D"),
    ("(B)", "B"), ("（D）", "D"), ("【A】", "A"), ("B", "B"), ("B. 12小时", "B"), ("我认为是C", "C"),
    ("C选项是正确的", "C"), ("A不正确，B正确", "B"), ("选项A错误，选项B正确", "B"), ("选项B正确，选项A错误", "B"),
    ("不选A，选C", "C"), ("答案不是A，答案是B", "B"), ("正确选项是D", "D"), ("解析：A项错误，B项错误，故选D", "D"),
    ("答案：\nB", "B"), ("The answer is (D).", "D"), ("Answer: A", "A"), ("the answer is c", ""),
    ("我不知道", ""), ("Because of this", ""), ("ABCD", ""), ("", ""),
])
def test_option_letter_battery(text, expected):
    assert option_letter(text) == expected


def test_generation_scored_with_known_accuracy():
    outputs = [("答案是 B", "B"), ("选C", "C"), ("（Ａ）", "A"), ("正确答案为D。", "D"), ("答案是 B", "C"), ("不知道", "A")]
    rows = [{"id": f"logic/{i}", "prediction": p, "gold": g, "group": "logic"} for i, (p, g) in enumerate(outputs)]
    cfg = EvalCfg(EvaluatorCfg("accuracy"), ComponentCfg("option_letter"))
    result = score_rows(rows, cfg)
    assert [r.extracted for r in result.scored] == ["B", "C", "A", "D", "B", ""]
    assert [r.correct for r in result.scored] == [True] * 4 + [False] * 2
    assert result.metrics["accuracy"].value == pytest.approx(4 / 6) and result.breakdown["logic"].n == 6


# -- loader ------------------------------------------------------------------------------------

def test_official_layout(ceval_mini, tmp_path):
    data = ceval.load(str(ceval_mini), None, "dev", "val")
    assert len(data.test) == sum(CEVAL_MINI_VAL_COUNTS.values()) and len(data.fewshot) == 5 * 8
    first = next(s for s in data.test if s.group == "logic")
    assert first.id == "logic/0" and first.gold in "ABCD"
    assert first.fields["subject"] == "logic" and first.fields["subject_zh"] == "逻辑学"
    assert set(first.fields) == {"question", "A", "B", "C", "D", "subject", "subject_zh", "question_stripped"}
    shot = next(s for s in data.fewshot if s.group == "logic")
    assert shot.fields["explanation"].endswith(f"故选{shot.gold}。")  # dev carries explanations
    only = ceval.load(str(ceval_mini), ["accountant", "physician"], "dev", "val")
    assert {s.group for s in only.test} == {"accountant", "physician"}
    assert only.test[0].fields["subject_zh"] == "注册会计师"
    nested = tmp_path / "nested"
    nested.mkdir()
    ceval_mini.rename(nested / "data")  # the official zip's layout, or under data/: both load
    assert len(ceval.load(str(nested), "logic", "dev", "val").test) == CEVAL_MINI_VAL_COUNTS["logic"]


def test_test_split_has_no_answers(ceval_mini):
    header = (ceval_mini / "test" / "logic_test.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "id,question,A,B,C,D"
    with pytest.raises(CompassError, match=r"logic_test.csv:1: no 'answer' column \(C-Eval's test answers are not "
                                           r"public; score the val split"):
        ceval.load(str(ceval_mini), "logic", "dev", "test")


def _edit(path, edit):
    lines = path.read_text(encoding="utf-8").splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("split,edit,expected", [
    ("val", lambda ls: ls.__setitem__(0, "id,question,A,B,C,answer"), r"logic_val.csv:1: header lacks D"),
    ("val", lambda ls: ls.__setitem__(2, ls[2].rsplit(",", 1)[0]), r"logic_val.csv:3: expected 7 columns"),
    ("val", lambda ls: ls.__setitem__(1, ls[1][:-1] + "E"), r"logic_val.csv:2: column 'answer' is 'E'"),
    ("val", lambda ls: ls.__setitem__(1, ls[1][:-2] + ","), r"logic_val.csv:2: column 'answer' is ''.*not public"),
    ("val", lambda ls: ls.__setitem__(3, "0" + ls[3][1:]), r"logic_val.csv:4: duplicate id '0'"),
    ("val", lambda ls: ls.__setitem__(2, ls[2][1:]), r"logic_val.csv:3: column 'id' is empty"),
    ("dev", lambda ls: ls.__setitem__(0, "id,question,A,B,C,D"), r"logic_dev.csv:1: no 'answer' column"),
    # Quoted questions spanning two lines: errors name the line the bad row starts on.
    ("val", lambda ls: (ls.__setitem__(1, '0,"two\nlines",1,2,3,4,A'), ls.__setitem__(2, '1,"two\nmore",1,2,3,4')),
     r"logic_val.csv:4: expected 7 columns"),
])
def test_malformed_rows_are_one_line_naming_file_and_row(ceval_mini, split, edit, expected):
    _edit(ceval_mini / split / f"logic_{split}.csv", edit)
    with pytest.raises(CompassError, match=expected) as err:
        ceval.load(str(ceval_mini), None, "dev", "val")
    assert "\n" not in str(err.value)


def test_missing_file_bad_encoding_and_bom(ceval_mini):
    path = ceval_mini / "val" / "logic_val.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a byte-order mark is fine
    assert len(ceval.load(str(ceval_mini), "logic", "dev", "val").test) == CEVAL_MINI_VAL_COUNTS["logic"]
    path.write_bytes(b"id,question,A,B,C,D,answer\n0,\xff\xfe,1,2,3,4,A\n")
    with pytest.raises(CompassError, match=r"logic_val.csv: not UTF-8"):
        ceval.load(str(ceval_mini), "logic", "dev", "val")
    (ceval_mini / "dev" / "physician_dev.csv").unlink()
    with pytest.raises(CompassError, match=r"physician_dev.csv: missing C-Eval file"):
        ceval.load(str(ceval_mini), "physician", "dev", "val")
    with pytest.raises(CompassError, match=r"no_such_subject_val.csv: missing C-Eval file"):
        ceval.load(str(ceval_mini), "no_such_subject", "dev", "val")


def test_hub_name_offline_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(CompassError, match=r"^ceval/ceval-exam: not a local C-Eval directory and not loadable"):
        ceval.load("ceval/ceval-exam", "logic", "dev", "val")


def test_bad_row_through_the_cli(tmp_path, ceval_mini, tiny_model):
    _edit(ceval_mini / "val" / "accountant_val.csv", lambda ls: ls.__setitem__(2, ls[2][:-1] + "X"))
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model))],
                       _repo_datasets("ceval_mini_ppl.py", ceval_mini))
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 2
    line = error_line(proc)
    assert "(ceval-mini-accountant)" in line and "accountant_val.csv:3: column 'answer' is 'X'" in line


def test_synthetic_items_are_chinese_and_splits_disjoint():
    dev, val, test = ({i.question + "|".join(i.choices) for i in ceval_items("logic", split, 20)}
                      for split in ("dev", "val", "test"))
    assert not dev & val and not dev & test and not val & test
    item = ceval_items("logic", "val", 1)[0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in item.question) and len(set(item.choices)) == 4
