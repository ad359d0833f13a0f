"""Small pieces: CIs, answer extraction, crash-safe files, the runner's error line."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scipy.stats import binomtest

from compass.evaluators.postprocess import first_capital, last_number
from compass.runners.base import Job, last_error_line
from compass.runners.local import python_module, run_jobs
from compass.stats.intervals import bootstrap_mean, wilson
from compass.store import write_json_atomic
from compass.tasks.worker import EXIT_BAD_INPUT

from helpers import score_rows


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (57, 200), (1, 1)])
def test_wilson_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [0, 1, 1, 0, 1, 1, 1, 0, 1, 1]
    lo, hi = bootstrap_mean(values)
    assert lo < 0.7 < hi and bootstrap_mean(values) == (lo, hi)


@pytest.mark.parametrize("text,expected", [
    ("Tom has 3 + 4 = 7 apples.\nThe answer is 7.", "7"),
    ("The answer is 1,234.", "1234"),
    ("so 12 then 15", "15"),
    ("#### -3", "-3"),
    ("The answer is 2.50", "2.5"),
    ("no number", ""),
])
def test_last_number(text, expected):
    assert last_number(text) == expected


@pytest.mark.parametrize("text,expected", [("B", "B"), (" (C) because", "C"), ("Answer: D.", "D"), ("none", "")])
def test_first_capital(text, expected):
    assert first_capital(text) == expected


def test_atomic_json_leaves_no_temp_files(tmp_path):
    write_json_atomic(tmp_path / "r.json", {"a": 1})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_runner_retries_and_reports_the_error_line(tmp_path):
    code = "import sys; print('working'); print('ValueError: bad thing happened', file=sys.stderr); sys.exit(3)"
    ok = Job("ok", python_module("json.tool", "--help"), tmp_path / "ok.log")
    bad = Job("bad", ["python3", "-c", code], tmp_path / "bad.log")
    no_retry = Job("input", ["python3", "-c", "import sys; print('compass: error: x.csv:3: bad'); sys.exit(2)"],
                   tmp_path / "input.log")
    outcomes = run_jobs([ok, bad, no_retry], max_workers=2, retry=2, poll_s=0.05)
    assert [o.ok for o in outcomes] == [True, False, False]
    assert outcomes[1].attempts == 3 and outcomes[1].error == "ValueError: bad thing happened"
    assert (tmp_path / "bad.log").read_text().count("=== attempt") == 3
    assert outcomes[2].attempts == 1 and outcomes[2].error == "compass: error: x.csv:3: bad"
    assert last_error_line(tmp_path / "nope.log") == "no log written"


def test_runner_refuses_jobs_needing_more_gpus_than_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    (outcome,) = run_jobs([Job("big", ["true"], tmp_path / "big.log", num_gpus=2)], poll_s=0.01)
    assert not outcome.ok and "needs 2 GPUs, this machine has 0" in outcome.error


def test_worker_started_without_dash_m_still_prints_its_usage(tmp_path):
    """Run as a script (no ``-m``), __main__ has no spec: the usage line once crashed on it, exiting 1,
    which the runner retries as transient instead of 2 (bad input)."""
    code = "from compass.tasks.worker import worker_main; worker_main(lambda task: None)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr
    assert proc.stderr.startswith("usage: python -c TASK_JSON")


def test_evaluate_binary_and_grouped_outcomes():
    from compass.config import EvalCfg, EvaluatorCfg

    rows = [{"id": str(i), "prediction": p, "gold": g, "group": grp}
            for i, (p, g, grp) in enumerate([("A", "A", "x"), ("B", "A", "x"), ("C", "C", "y"), (" D ", "D", "y")])]
    out = score_rows(rows, EvalCfg(EvaluatorCfg("accuracy")))
    assert [r.correct for r in out.scored] == [True, False, True, True]
    assert out.primary == "accuracy" and out.metrics["accuracy"].value == 0.75
    assert out.breakdown["x"].value == 0.5 and out.breakdown["y"].n == 2
    assert out.metrics["accuracy"].ci95 == wilson(3, 4)


def test_continuous_scores_get_a_bootstrap_interval():
    from compass.evaluators.scoring import outcome_metric
    from compass.records import Scored

    name, metric = outcome_metric([Scored(str(i), "x", "", score=s) for i, s in enumerate((0.0, 0.5, 1.0, 1.0))], "w")
    lo, hi = metric.ci95
    assert name == "score" and metric.value == 0.625 and lo < metric.value < hi


def test_group_interval_is_never_degenerate():
    from compass.summarize.tables import Cell, _group_cell

    zero = Cell(0.0, *wilson(0, 20), 20)
    one = Cell(1.0, *wilson(30, 30), 30)
    group = _group_cell([zero, one], [1.0, 1.0])
    assert group.value == 0.5 and group.lo < 0.5 < group.hi
    all_zero = _group_cell([zero, zero], [1.0, 3.0])
    assert all_zero.value == 0.0 and all_zero.hi > 0.0


def test_detectable_difference_at_a_runs_size():
    """From one run's 95% interval: (z_0.975 + z_0.8) * sqrt(2) * SE, checked against the textbook formula
    for two independent proportions at p = 0.4, n = 100 (and 4x the samples halves it)."""
    import math

    from compass.stats.intervals import detectable_difference

    se = math.sqrt(0.4 * 0.6 / 100)
    assert detectable_difference(0.4 - 1.959964 * se, 0.4 + 1.959964 * se) == pytest.approx(2.8016 * math.sqrt(2) * se,
                                                                                            rel=1e-3)
    se4 = se / 2
    assert detectable_difference(0.4 - 1.959964 * se4, 0.4 + 1.959964 * se4) == pytest.approx(
        detectable_difference(0.4 - 1.959964 * se, 0.4 + 1.959964 * se) / 2, rel=1e-6)
