"""Re-scoring a finished run: a changed evaluator or answer extractor gives exactly the new numbers,
from the original predictions, with no model call; and evaluation and summaries re-run from the
run directory alone, on a machine without the model or the data."""
from __future__ import annotations

import shutil

import pytest

from compass.evaluators.postprocess import last_number
from compass.tasks.infer import sent_ids

from helpers import compass, gsm8k_dataset, predictions_of, result_of, scored_of, write_config
from judge_server import JudgeServer, fixed, judgment_in_answer


def _finished_run(tmp_path, mini_data, tiny_model, **dataset):
    models = [dict(abbr="tiny", path=str(tiny_model), batch_size=4)]
    datasets = [gsm8k_dataset(mini_data["gsm8k"], **dataset)]
    cfg = write_config(tmp_path / "cfg.py", models, datasets)
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    return cfg, models, datasets, run


def test_switching_to_a_score_based_evaluator_rescores_from_the_predictions(tmp_path, mini_data, tiny_model):
    cfg, models, datasets, run = _finished_run(tmp_path, mini_data, tiny_model)
    events = run / "logs" / "infer" / "tiny.events.jsonl"
    calls = len(sent_ids(events))
    assert result_of(run, "tiny", "gsm8k-mini").primary == "accuracy"

    # A judge that reads a rating out of each answer: every sample gets its own, known, score.
    predictions = predictions_of(run, "tiny", "gsm8k-mini")
    with JudgeServer(judgment_in_answer) as server:
        datasets[0]["eval_cfg"] = dict(evaluator=dict(
            type="JudgeSingleEvaluator", judge=dict(abbr="judge", type="OpenAI", path="judge", api_base=server.url,
                                                    chat=True, max_out_len=16)))
        write_config(tmp_path / "cfg.py", models, datasets)
        rescored = compass("run", str(cfg), "-r", cwd=tmp_path)
        assert rescored.returncode == 0, rescored.stderr
        assert server.count() == len(predictions)  # each original prediction was judged once
    assert len(sent_ids(events)) == calls  # no model call
    result = result_of(run, "tiny", "gsm8k-mini")
    scored = scored_of(run, "tiny", "gsm8k-mini")
    assert result.primary == "score" and result.evaluator == "judge_single"
    assert all(r.correct is None and r.score == 0.0 for r in scored)  # no rating in the answers: unparseable
    assert result.metrics["score"] == 0.0 and result.metrics["unparseable"] == len(predictions)
    assert "accuracy" not in result.metrics

    # And back: the judge's scores do not linger either.
    with JudgeServer(fixed("[[6]]")) as server:
        datasets[0]["eval_cfg"] = dict(evaluator=dict(type="Gsm8kEvaluator"), pred_postprocessor=dict(type="gsm8k"))
        write_config(tmp_path / "cfg.py", models, datasets)
        assert compass("run", str(cfg), "-r", cwd=tmp_path).returncode == 0
        assert server.count() == 0
    expected = sum(last_number(p.prediction) == p.gold for p in predictions) / len(predictions)
    truncated = sum(p.finish_reason == "length" for p in predictions) / len(predictions)  # a fact of inference
    assert result_of(run, "tiny", "gsm8k-mini").metrics == {"accuracy": pytest.approx(expected),
                                                            "truncated": pytest.approx(truncated)}
    assert all(r.score is None and r.details == {} for r in scored_of(run, "tiny", "gsm8k-mini"))
    assert len(sent_ids(events)) == calls


def test_a_changed_answer_extractor_rescores_with_no_model_call(tmp_path, mini_data, tiny_model):
    cfg, models, datasets, run = _finished_run(tmp_path, mini_data, tiny_model)
    events = run / "logs" / "infer" / "tiny.events.jsonl"
    calls = len(sent_ids(events))
    predictions = {p.id: p for p in predictions_of(run, "tiny", "gsm8k-mini")}
    # Exact match of the whole stripped answer: the model's chatty answers can never match a number.
    datasets[0]["eval_cfg"] = dict(evaluator=dict(type="AccEvaluator"), pred_postprocessor=dict(type="none"))
    write_config(tmp_path / "cfg.py", models, datasets)
    proc = compass("run", str(cfg), "-r", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(sent_ids(events)) == calls
    scored = scored_of(run, "tiny", "gsm8k-mini")
    assert all(r.extracted == predictions[r.id].prediction.strip() for r in scored)
    expected = sum(p.prediction.strip() == p.gold for p in predictions.values()) / len(predictions)
    assert result_of(run, "tiny", "gsm8k-mini").metrics["accuracy"] == pytest.approx(expected)
    assert result_of(run, "tiny", "gsm8k-mini").evaluator == "accuracy"
    # The predictions file is inference's alone: evaluation never rewrote it.
    assert {p.id: p for p in predictions_of(run, "tiny", "gsm8k-mini")} == predictions


def test_eval_and_summarize_rerun_from_the_run_directory_alone(tmp_path, mini_data, tiny_model):
    model_copy = tmp_path / "weights"
    shutil.copytree(tiny_model, model_copy)
    data_copy = tmp_path / "gsm8k-data"
    shutil.copytree(mini_data["gsm8k"], data_copy)
    models = [dict(abbr="tiny", path=str(model_copy), batch_size=4)]
    cfg = write_config(tmp_path / "cfg.py", models, [gsm8k_dataset(data_copy)])
    assert compass("run", str(cfg), cwd=tmp_path).returncode == 0
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    files = ("results/tiny/gsm8k-mini.json", "scored/tiny/gsm8k-mini.jsonl", "summary/summary.txt",
             "summary/summary.csv", "summary/summary.md", "summary/summary.html")
    original = {name: (run / name).read_bytes() for name in files}

    # Another machine: the run directory copied, no weights, no dataset, no hub.
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "outputs", elsewhere)
    shutil.rmtree(model_copy)
    shutil.rmtree(data_copy)
    copied = elsewhere / "cfg" / run.name
    for name in files:
        (copied / name).unlink()
    proc = compass("run", str(cfg), "-w", str(elsewhere), "-r", run.name, "-m", "eval", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in files:
        assert (copied / name).read_bytes() == original[name], name
    for name in files[2:]:
        (copied / name).unlink()
    proc = compass("run", str(cfg), "-w", str(elsewhere), "-r", run.name, "-m", "summarize", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in files:
        assert (copied / name).read_bytes() == original[name], name
    # Inference, by contrast, needs the weights: asked for, it says so in one line before any worker.
    incomplete = copied / "predictions" / "tiny" / "gsm8k-mini.jsonl"
    incomplete.write_text("".join(incomplete.read_text().splitlines(keepends=True)[:-1]))
    proc = compass("run", str(cfg), "-w", str(elsewhere), "-r", run.name, cwd=tmp_path)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
