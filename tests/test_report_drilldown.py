"""The report's per-sample data, from prediction and scored files written through compass.records."""
from __future__ import annotations

import math

from compass import records
from compass.records import Prediction, Scored
from compass.store import RunDir
from compass.summarize import drilldown
from compass.summarize.tables import Column

FEW_SHOT = "Answer with a letter.\n\nQ: 1+1?\nA: 2\n\n"


def _write(run: RunDir, model: str, rows: list[tuple[Prediction, Scored]]) -> Column:
    records.write_lines(run.predictions(model, "ds"), [p for p, _ in rows])
    records.write_lines(run.scored(model, "ds"), [s for _, s in rows])
    return Column(model, run, model)


def _pair(i: int, prompt: str, answer: str, correct: bool, **fields) -> tuple[Prediction, Scored]:
    return (Prediction(str(i), "h", prompt, answer, "B", **fields),
            Scored(str(i), "accuracy", answer, correct=correct))


def test_question_split_and_shared_context(tmp_path):
    run = RunDir(tmp_path)
    q = "Q: 2+2?\nA:"
    column = _write(run, "m", [
        _pair(0, FEW_SHOT + q, "B", True, question_at=len(FEW_SHOT)),
        _pair(1, FEW_SHOT + "Q: 3+3?\nA:", "B", True, question_at=len(FEW_SHOT)),
        _pair(2, "zero-shot prompt", "B", True),  # no question_at: all of it is the question
        _pair(3, "short", "B", True, question_at=99),  # past the end: never hide the prompt
    ])
    data = drilldown.samples([column], ["ds"])
    rows = {r["id"]: r for r in data["sources"][0]["rows"]}
    assert rows["0"]["question"] == q and data["contexts"][rows["0"]["context"]] == FEW_SHOT
    assert rows["1"]["context"] == rows["0"]["context"] and data["contexts"] == [FEW_SHOT]  # stored once
    assert (rows["2"]["question"], rows["2"]["context"]) == ("zero-shot prompt", -1)
    assert (rows["3"]["question"], rows["3"]["context"]) == ("short", -1)


def test_choice_probabilities_without_a_config_are_numbered(tmp_path):
    run = RunDir(tmp_path)  # no configs/resolved.json: no labels to trust
    logprobs = [-1.0, -2.5, -0.2]
    column = _write(run, "m", [_pair(0, "p", "#3", True, choice_logprobs=logprobs)])
    (row,) = drilldown.samples([column], ["ds"])["sources"][0]["rows"]
    total = sum(math.exp(lp) for lp in logprobs)
    assert row["choices"] == [[f"#{i}", round(math.exp(lp) / total, 6)] for i, lp in enumerate(logprobs, 1)]
    # Far-apart log-likelihoods neither overflow nor lose the winner.
    assert drilldown.choice_probabilities([-5000.0, -1.0]) == [0.0, 1.0]


def test_truncated_drilldown_keeps_the_same_samples_for_every_model(tmp_path, monkeypatch):
    monkeypatch.setattr(drilldown, "MAX_SAMPLES", 3)
    run = RunDir(tmp_path)
    a = _write(run, "a", [_pair(i, f"p{i}", "B", i != 4) for i in range(8)])  # a fails 4
    b = _write(run, "b", [_pair(i, f"p{i}", "C" if i == 6 else "B", i not in (4, 6)) for i in range(8)])  # differs on 6
    sources = drilldown.samples([a, b], ["ds"])["sources"]
    ids = [[r["id"] for r in s["rows"]] for s in sources]
    assert ids[0] == ["4", "0", "6"] and ids[1] == ["4", "6", "0"]  # disagreement and failure kept, failures first
    assert [s["total"] for s in sources] == [8, 8]


def test_long_answers_are_told_apart_after_clipping(tmp_path):
    run = RunDir(tmp_path)
    long = "x" * (drilldown.MAX_TEXT + 10)
    a = _write(run, "a", [_pair(0, "p", long + "1", False)])
    b = _write(run, "b", [_pair(0, "p", long + "2", False)])
    rows = [s["rows"][0] for s in drilldown.samples([a, b], ["ds"])["sources"]]
    assert rows[0]["extracted"] == rows[1]["extracted"]  # the shown text cannot tell them apart...
    assert rows[0]["answer_key"] != rows[1]["answer_key"]  # ...the comparison can
