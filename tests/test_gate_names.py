"""The gate finds models and datasets by their abbr whatever it contains (issue 20): the run
directory holds them under compass.store.safe_name, and the gate maps back with name_of."""
from __future__ import annotations

import numpy as np
import pytest

from compass import records
from compass.errors import CompassError
from compass.gate.analyse import compare
from compass.gate.cli import main
from compass.store import RunDir, safe_name

NAMES = ["myorg/refdemo", "../escape", "..", "ünï/名", "50%/x", ".hidden"]


def write(run, model: str, dataset: str, correct: np.ndarray) -> None:
    rows = [records.Scored(id=f"q{i}", evaluator="accuracy", extracted="x", correct=bool(v))
            for i, v in enumerate(correct)]
    records.write_lines(RunDir(run).scored(model, dataset), rows)


@pytest.mark.parametrize("abbr", NAMES)
def test_model_found_by_abbr(tmp_path, abbr, capsys):
    good = np.arange(400) % 2 == 0
    bad = good.copy()
    bad[:100] = False  # 50 of 200 right answers lost
    write(tmp_path / "base", abbr, "mmlu/mini", good)
    write(tmp_path / "cand", abbr, "mmlu/mini", bad)
    assert not (tmp_path / "base" / "scored" / "myorg").exists()  # one directory per abbr, inside the run
    report = compare(tmp_path / "base", tmp_path / "cand")  # the only model: found without --model
    assert (report.baseline.model, report.candidate.model) == (abbr, abbr)
    assert [r.dataset for r in report.datasets] == ["mmlu/mini"] and report.exit_code == 1
    assert compare(tmp_path / "base", tmp_path / "cand", model=abbr).exit_code == 1
    model_dir = tmp_path / "cand" / "scored" / safe_name(abbr)
    assert compare(tmp_path / "base", model_dir).candidate.model == abbr
    code = main(["--baseline", str(tmp_path / "base"), "--candidate", str(tmp_path / "base"), "--model", abbr])
    assert code == 0 and f"[{abbr}]" in capsys.readouterr().out


def test_similar_abbrs_stay_apart(tmp_path, capsys):
    """`a/b` and `a%2Fb` are two models with two files; each is compared with its own data."""
    n = 400
    write(tmp_path / "run", "myorg/m", "d", np.ones(n, bool))
    write(tmp_path / "run", "myorg%2Fm", "d", np.zeros(n, bool))
    assert compare(tmp_path / "run", tmp_path / "run", model="myorg/m").datasets[0].baseline == 1.0
    assert compare(tmp_path / "run", tmp_path / "run", model="myorg%2Fm").datasets[0].baseline == 0.0
    code = main(["--baseline", str(tmp_path / "run"), "--candidate", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "(myorg%2Fm, myorg/m)" in err and "--model" in err
    with pytest.raises(CompassError, match="no model 'myorg' with scored outcomes"):
        compare(tmp_path / "run", tmp_path / "run", model="myorg")


def test_abbrs_named_like_run_folders(tmp_path):
    """A model called "scored" and a config called "results" do not confuse the path forms."""
    run = tmp_path / "outputs" / "results" / "20240501_120000"  # a config named "results"
    for model in ("scored", "results"):
        write(run, model, "d", np.ones(50, bool))
    assert compare(run / "scored" / "scored", run / "scored" / "results").candidate.model == "results"
    assert compare(run / "scored", run, model="scored").baseline.model == "scored"
    assert compare(run, run, model="results").baseline.scored_dir == str(run.resolve() / "scored" / "results")
