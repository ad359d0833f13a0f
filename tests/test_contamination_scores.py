"""Scores split by contamination label (issue 15, must-show 2): the split in every summary format with
intervals and a test, labels found beside the run or given, `compass gate --clean-only`, and the
two-sample statistics; then, slow, two tiny reference models really trained on a clean and a
contaminated corpus (bench/contamination_scores.py)."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from compass import records
from compass.config import Config
from compass.errors import CompassError
from compass.gate.analyse import compare
from compass.gate.render import render_text
from compass.pipeline import write_report
from compass.records import ContaminationLabel, Scored
from compass.stats.two_sample import difference, newcombe, permutation_p
from compass.store import RunDir
from compass.summarize import tables

from helpers import write_result

REPO = Path(__file__).resolve().parents[1]


def make_run(root: Path, model: str, correct: list[bool], dataset: str = "mmlu") -> RunDir:
    run = RunDir(root)
    records.write_lines(run.scored(model, dataset), [Scored(id=f"q{i}", evaluator="accuracy", extracted="x",
                                                            correct=ok) for i, ok in enumerate(correct)])
    write_result(run, model, dataset, len(correct), float(np.mean(correct)))
    return run


def write_labels(directory: Path, labels: list[str], dataset: str = "mmlu") -> Path:
    records.write_lines(directory / f"{dataset}.jsonl", [
        ContaminationLabel(id=f"q{i}", label=lab, coverage=1.0 if lab == "contaminated" else 0.0,  # type: ignore[arg-type]
                           longest_match=0, methods=["ngram"]) for i, lab in enumerate(labels)])
    return directory


def test_every_summary_format_splits_scores_by_label(tmp_path):
    # 40 contaminated samples all right, 60 clean ones right 30 times, 5 partial, 5 without labels
    correct = [True] * 40 + [i % 2 == 0 for i in range(60)] + [True] * 5 + [False] * 5
    run = make_run(tmp_path / "outputs" / "cfg" / "20261127_000000", "m", correct)
    labels = write_labels(tmp_path / "outputs" / "cfg" / "contamination", ["contaminated"] * 40 + ["clean"] * 60
                          + ["partial"] * 5)
    cfg = Config(file="cfg.py", models=[], datasets=[])
    out = tmp_path / "summary"
    text = write_report("cfg", [tables.Column("m", run, "m")], ["mmlu"], cfg, out, ("txt", "csv", "md", "html"))
    lo, hi = newcombe(30, 60, 40, 40)
    want_clean = "50.00 [37.7, 62.3] (n=60)"  # Wilson, 30 of 60
    for fmt in ("txt", "md"):
        body = (out / f"summary.{fmt}").read_text()
        assert "Scores by contamination label" in body and want_clean in body
        assert "100.00 [91.2, 100.0] (n=40)" in body and "100.00 [56.6, 100.0] (n=5)" in body
        assert f"+50.00 [{100 * lo:+.1f}, {100 * hi:+.1f}]" in body
        assert "5 scored sample(s) have no label" in body and str(labels) in body
    assert text == (out / "summary.txt").read_text()
    rows = {r[1]: r[2:] for r in csv.reader(io.StringIO((out / "summary.csv").read_text()))}
    assert rows["contamination: clean (n=60)"][0] == "50.00"
    assert rows["contamination: contaminated (n=40)"] == ["100.00", "91.24", "100.00"]
    assert rows["contamination: contaminated - clean (pt)"][0] == "50.00"
    html = (out / "summary.html").read_text()
    assert "Scores by contamination label" in html and want_clean in html and html.count("<svg") >= 2

    # Given explicitly (compass run|report --contamination DIR): the same; a missing one is an error.
    moved = labels.rename(tmp_path / "elsewhere")
    assert "Scores by contamination label" not in write_report("cfg", [tables.Column("m", run, "m")], ["mmlu"], cfg,
                                                                out, ("txt",))
    assert want_clean in write_report("cfg", [tables.Column("m", run, "m")], ["mmlu"], cfg, out, ("txt",), str(moved))
    with pytest.raises(CompassError, match="not a directory"):
        write_report("cfg", [tables.Column("m", run, "m")], ["mmlu"], cfg, out, ("txt",), str(tmp_path / "nope"))


def test_unchecked_samples_are_in_no_subset(tmp_path):
    # 10 clean samples all wrong, 10 too short to check all right: counted as clean, they would hide that.
    run = make_run(tmp_path / "outputs" / "cfg" / "20261127_000000", "m", [False] * 10 + [True] * 10)
    write_labels(tmp_path / "outputs" / "cfg" / "contamination", ["clean"] * 10 + ["unchecked"] * 10)
    text = write_report("cfg", [tables.Column("m", run, "m")], ["mmlu"], Config(file="cfg.py", models=[], datasets=[]),
                        tmp_path / "summary", ("txt",))
    assert "0.00 [0.0, 27.8] (n=10)" in text  # the clean subset: 0 of 10 (Wilson)
    assert "m on mmlu: 10 sample(s) too short to check, in no subset" in text


def test_gate_clean_only_compares_only_clean_samples(tmp_path, capsys):
    runs = tmp_path / "outputs" / "cfg"
    base = [True] * 200
    cand = [False] * 100 + [True] * 100  # every contaminated sample lost: a regression overall
    make_run(runs / "20261127_000000", "m", base)
    make_run(runs / "20261127_000001", "m", cand)
    assert compare(runs / "20261127_000000", runs / "20261127_000001").verdict == "regression"
    with pytest.raises(CompassError, match="no contamination labels"):
        compare(runs / "20261127_000000", runs / "20261127_000001", clean_only=True)
    write_labels(runs / "contamination", ["contaminated"] * 100 + ["clean"] * 100)
    report = compare(runs / "20261127_000000", runs / "20261127_000001", clean_only=True)
    only = report.datasets[0]
    assert report.verdict != "regression" and only.delta == 0 and only.n == 100 and only.not_clean == 100
    assert report.clean_only == str(runs / "contamination") and "clean samples only" in render_text(report)
    # Labels that call everything contaminated leave nothing to compare: an error, not a pass.
    other = write_labels(tmp_path / "all-dirty", ["contaminated"] * 200)
    with pytest.raises(CompassError, match="no sample labelled clean"):
        compare(runs / "20261127_000000", runs / "20261127_000001", clean_only=True, contamination=other)
    with pytest.raises(CompassError, match="no labels for dataset"):
        compare(runs / "20261127_000000", runs / "20261127_000001", clean_only=True, contamination=tmp_path)


def test_newcombe_and_permutation_test():
    lo, hi = newcombe(30, 60, 40, 40)  # Newcombe (1998), method 10, by hand from the Wilson limits
    assert lo < 0.5 < hi and lo == pytest.approx(0.5 - math.sqrt((1 - 0.9124) ** 2 + (0.6228 - 0.5) ** 2), abs=1e-3)
    a, b = np.array([1.0] * 10 + [0.0] * 30), np.array([1.0] * 20 + [0.0] * 20)
    exact = stats.fisher_exact([[10, 30], [20, 20]]).pvalue
    assert permutation_p(a, b, 20_000, np.random.default_rng(0)) == pytest.approx(exact, abs=0.01)
    same = difference(a, a.copy(), binary=True)
    assert same.delta == 0 and same.p_value == 1.0 and same.ci95[0] < 0 < same.ci95[1]
    graded = difference(np.linspace(0, 0.5, 30), np.linspace(0.5, 1, 30), binary=False)
    assert graded.ci95[0] > 0.3 and graded.p_value < 0.001


def _bench():
    spec = importlib.util.spec_from_file_location("contamination_scores", REPO / "bench" / "contamination_scores.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.slow
def test_a_model_trained_on_planted_items_scores_higher_on_them(tmp_path):
    """Real chain: refmodel data/pretrain/export for both corpora, compass contamination, compass run."""
    bench = _bench()
    result = bench.experiment(tmp_path, **bench.TEST)
    assert result["labels"]["contaminated"] == result["planted"]  # the check finds the planted half
    dirty, control = result["split"]["trained-contaminated"], result["split"]["trained-clean"]
    # The model that saw the planted items gains on them: the difference's interval excludes 0 ...
    assert dirty["contaminated - clean"][1] > 0
    assert dirty["contaminated"][0] > dirty["clean"][0] + 20
    # ... and the same training on the clean corpus gives no such gap (its interval covers 0).
    assert control["contaminated - clean"][1] < 0 < control["contaminated - clean"][2]
    html = Path(result["run"], "summary", "summary.html").read_text()
    assert "Scores by contamination label" in html
    assert json.loads(json.dumps(result))  # what the bench prints
