"""MATH: the official layout, equivalence judging with per-level and per-subject results, end to end."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace

import pytest

from compass import records
from compass.config import ComponentCfg, EvalCfg, EvaluatorCfg, read_python_config
from compass.datasets import math_dataset
from compass.errors import CompassError
from compass.evaluators.math.extract import extract_boxed
from compass.stats.intervals import wilson
from compass.synthetic import MATH_TYPES, math_items, write_math

from helpers import REPO, compass, predictions_of, result_of, score_rows, scored_of, write_config

EVAL_CFG = EvalCfg(EvaluatorCfg("math_equiv"), ComponentCfg("math_answer"))


@pytest.fixture()
def math_mini(tmp_path):
    return write_math(tmp_path / "math", n_train=4, n_test=2)


def _repo_dataset(path, max_out_len: int) -> dict:
    ds = read_python_config(REPO / "datasets_cfg" / "math" / "math_mini_gen.py")["math_datasets"][0]
    ds = dict(ds, path=str(path))
    ds["infer_cfg"]["inferencer"]["max_out_len"] = max_out_len
    return ds


# -- the same answer written differently, and a wrong one ----------------------------------------

def restate(gold: str) -> str:
    """``gold`` (a final answer as the synthetic solutions write it) in another, equivalent form."""
    gold = re.sub(r"^x = ", "", gold)
    gold = re.sub(r"\\text\{ square units\}$", "", gold)
    if re.fullmatch(r"-?\d+", gold):
        return f"{gold}.0" if int(gold) % 2 else f"\\frac{{{2 * int(gold)}}}{{2}}"
    if re.fullmatch(r"-?\d+\.5", gold):
        return f"\\dfrac{{{int(float(gold) * 2)}}}{{2}}"
    frac = re.fullmatch(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}", gold)
    if frac:
        return f"{frac.group(1)}{frac.group(2)}/{frac.group(3)}"
    pi = re.fullmatch(r"(\d+) ?\\pi|\\pi \\cdot (\d+)", gold)
    if pi:
        return f"\\pi {pi.group(1)}" if pi.group(1) else f"{pi.group(2)}\\pi"
    roots = re.fullmatch(r"(\d+), ?(\d+)", gold)
    if roots:
        return f"{roots.group(2)}, {roots.group(1)}"  # solutions are unordered
    polar = re.fullmatch(r"\\left\( ?(\d+), .*|\((\d+),.*", gold)
    if polar:
        return f"\\left( {polar.group(1) or polar.group(2)}, \\pi/2 \\right)"
    raise AssertionError(f"no restatement for {gold!r}: extend restate() for the new answer shape")


def right_and_wrong(gold: str, i: int) -> tuple[str, str]:
    alt = restate(gold)
    right = [f"We compute carefully.\nThe final answer is ${alt}$. I hope it is correct.",
             f"So the answer is $\\boxed{{{alt}}}$."][i % 2]
    wrong_answer = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), alt, count=1)
    return right, f"Thus the answer is $\\boxed{{{wrong_answer}}}$."


# -- end to end --------------------------------------------------------------------------------

def test_math_end_to_end_then_rescored_from_edited_predictions(tmp_path, math_mini, tiny_model):
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model), batch_size=8)],
                       [_repo_dataset(math_mini, max_out_len=16)])
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    pred_path = run / "predictions" / "tiny" / "math-mini.jsonl"
    rows = predictions_of(run, "tiny", "math-mini")
    assert len(rows) == 14 and all(r.prompt.count("Problem:\n") == 5 for r in rows)  # 4 shots + the problem
    result = result_of(run, "tiny", "math-mini")
    assert set(result.breakdown) == set(MATH_TYPES) and all(b.n == 2 for b in result.breakdown.values())
    levels = {math_dataset.level_of(r.id) for r in rows}
    assert levels == {f"Level {k}" for k in range(1, 6)}
    assert {f"accuracy@{level}" for level in levels} <= set(result.ci95)
    assert "math-mini" in proc.stdout

    # Predictions that state every gold answer in another form, re-scored by the run's own evaluation
    # worker (no model), score 100% on every metric. Off-by-one answers: the judge tests below (0%).
    records.write_lines(pred_path, [replace(r, prediction=right_and_wrong(r.gold, i)[0]) for i, r in enumerate(rows)])
    again = subprocess.run([sys.executable, "-m", "compass.tasks.evaluate", str(run / "tasks" / "tiny.json")],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    result = result_of(run, "tiny", "math-mini")
    assert result.n == 14 and all(v == 1.0 for v in result.metrics.values()), result.metrics
    assert all(b.value == 1.0 for b in result.breakdown.values())
    assert all(r.correct for r in scored_of(run, "tiny", "math-mini"))


# -- judging: known scores ------------------------------------------------------------------------

def _row(subject, level, n, prediction, gold) -> dict:
    return {"id": f"{subject}/level{level}/{n}", "prediction": prediction, "gold": gold, "group": subject}


def test_judge_levels_and_subjects_known_scores():
    rows = [
        _row("algebra", 1, 1, "so $x = \\boxed{\\dfrac{1}{2}}$.", "\\frac12"),  # right
        _row("algebra", 1, 2, "The final answer is $0.5$. I hope it is correct.", "\\frac{1}{2}"),  # right
        _row("algebra", 2, 3, "The answer is $\\boxed{3}$", "-3"),  # wrong
        _row("geometry", 2, 4, "$\\boxed{12\\text{ square units}}$", "12"),  # right
        _row("geometry", 3, 5, "no final answer here", "7"),  # wrong: nothing extracted
        _row("precalculus", 5, 6, "$\\boxed{(2,1)}$", "(1, 2)"),  # wrong: tuples are ordered
        _row("intermediate_algebra", 5, 7, "$\\boxed{2, 1}$", "1,2"),  # right: roots are not
        _row("number_theory", 3, 8, "\\boxed{2\\sqrt{2}}", "\\sqrt{8}"),  # right
    ]
    result = score_rows(rows, EVAL_CFG)
    assert [r.correct for r in result.scored] == [True, True, False, True, False, False, True, True]
    assert result.scored[4].extracted == "" and result.scored[0].extracted == "\\dfrac{1}{2}"
    metrics = {k: m.value for k, m in result.metrics.items()}
    ci95 = {k: list(m.ci95) for k, m in result.metrics.items()}
    assert metrics["accuracy"] == 5 / 8
    expected = {"Level 1": (2, 2), "Level 2": (1, 2), "Level 3": (1, 2), "Level 5": (1, 2)}
    assert {k for k in metrics if k.startswith("accuracy@")} == {f"accuracy@{k}" for k in expected}
    for level, (k, n) in expected.items():
        assert metrics[f"accuracy@{level}"] == k / n and ci95[f"accuracy@{level}"] == list(wilson(k, n))
    assert result.breakdown["algebra"].value == 2 / 3 and result.breakdown["geometry"].n == 2


def test_every_synthetic_answer_shape_is_judged_both_ways():
    """Each template's gold restated in another form scores 100%; the off-by-one answers 0%."""
    golds = [(s, extract_boxed(item["solution"])) for s in MATH_TYPES for item in math_items(s, "train", 16)]
    for column, expected in ((0, 1.0), (1, 0.0)):
        rows = [{"id": f"{subject}/level1/{i}", "gold": gold, "prediction": right_and_wrong(gold, i)[column],
                 "group": subject} for i, (subject, gold) in enumerate(golds)]
        result = score_rows(rows, EVAL_CFG)
        assert [(r["gold"], r["prediction"]) for r, s in zip(rows, result.scored) if s.correct != bool(expected)] == []
        assert {k: m.value for k, m in result.metrics.items()} == {"accuracy": expected, "accuracy@Level 1": expected}


# -- loader ------------------------------------------------------------------------------------

def test_official_layout(math_mini):
    data = math_dataset.load(str(math_mini))
    assert len(data.test) == 14 and len(data.fewshot) == 28
    sample = data.test[0]
    assert sample.group == "algebra" and re.fullmatch(r"algebra/level\d/1", sample.id)
    assert set(sample.fields) == {"problem", "solution", "level", "type"} and sample.fields["type"] == "Algebra"
    raw = json.loads((math_mini / "test" / "algebra" / "1.json").read_text())
    assert sample.gold == extract_boxed(raw["solution"]) and sample.fields["level"] == raw["level"]
    only = math_dataset.load(str(math_mini), ["geometry", "precalculus"])
    assert {s.group for s in only.test} == {"geometry", "precalculus"}


def test_gold_is_the_last_box_and_files_in_numeric_order(tmp_path):
    folder = tmp_path / "m" / "test" / "algebra"
    folder.mkdir(parents=True)
    for n in (10, 2, 1):
        row = {"problem": f"p{n}", "level": "Level 2", "type": "Algebra",
               "solution": f"First $\\boxed{{{n + 100}}}$, then really $\\boxed{{\\frac{{{n}}}{{3}}}}$."}
        (folder / f"{n}.json").write_text(json.dumps(row))
    (folder / "3.json").write_text(json.dumps({"problem": "q", "level": "Level ?", "type": "Algebra",
                                               "solution": "$\\boxed{0}$"}))  # as a few official problems
    data = math_dataset.load(str(tmp_path / "m"))
    ids = ["algebra/level2/1", "algebra/level2/2", "algebra/level?/3", "algebra/level2/10"]
    assert [s.id for s in data.test] == ids
    assert data.test[3].gold == "\\frac{10}{3}" and data.fewshot == []
    assert math_dataset.level_of(data.test[2].id) == "Level ?"


@pytest.mark.parametrize("text,expected", [
    ('{"problem": "p", "level": "Level 1", "type": "Algebra",\n "solution": "\\\\boxed{1}"',
     r"3.json:2: not valid JSON"),
    ('["problem"]', r"3.json: expected a JSON object, got list"),
    ('{"problem": "p", "level": "Level 1", "solution": "\\\\boxed{1}"}', r"3.json: missing field 'type'"),
    ('{"problem": "p", "level": "3", "type": "Algebra", "solution": "\\\\boxed{1}"}',
     r"3.json: field 'level' is '3', expected 'Level 1' .. 'Level 5'"),
    ('{"problem": "p", "level": "Level 1", "type": "Algebra", "solution": "The answer is 1."}',
     r"3.json: field 'solution' has no \\boxed\{...\} final answer"),
])
def test_malformed_files_are_one_line_naming_the_file(math_mini, text, expected):
    (math_mini / "test" / "geometry" / "3.json").write_text(text)
    with pytest.raises(CompassError, match=expected) as err:
        math_dataset.load(str(math_mini))
    assert "\n" not in str(err.value) and "test/geometry/3.json" in str(err.value)


def test_missing_split_subject_and_bad_encoding(math_mini, tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(CompassError, match=r"m/test: missing MATH split directory 'test'"):
        math_dataset.load(str(tmp_path / "m"))
    with pytest.raises(CompassError, match=r"test/calculus: missing MATH subject directory"):
        math_dataset.load(str(math_mini), "calculus")
    (math_mini / "train" / "algebra" / "2.json").write_bytes(b'{"problem": "\xff"}')
    with pytest.raises(CompassError, match=r"train/algebra/2.json: not UTF-8"):
        math_dataset.load(str(math_mini))


def test_hub_name_offline_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(CompassError, match=r"^EleutherAI/hendrycks_math: not a local MATH directory and not loadable"):
        math_dataset.load("EleutherAI/hendrycks_math", "algebra")


def test_synthetic_splits_are_disjoint():
    for subject in MATH_TYPES:
        train = {r["problem"] for r in math_items(subject, "train", 20)}
        test = {r["problem"] for r in math_items(subject, "test", 5)}
        assert not train & test
