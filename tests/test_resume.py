"""Crash and resume: SIGKILL mid-dataset, then ``-r`` finishes the run without redoing finished samples."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from compass.synthetic import write_gsm8k
from compass.tasks.infer import sent_ids

from helpers import compass, error_line, gsm8k_dataset, mmlu_dataset, predictions_of, result_of, scored_of, write_config


def _complete_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().split("\n")[:-1]]


def _run_dir(work: Path) -> Path:
    (run,) = list((work / "cfg").iterdir())
    return run


def test_sigkill_mid_dataset_then_resume(tmp_path, mini_data, tiny_model):
    gsm = write_gsm8k(tmp_path / "gsm-big", n_train=3, n_test=40)
    models = [dict(abbr="tiny", path=str(tiny_model), batch_size=2, max_out_len=24)]
    datasets = [mmlu_dataset(mini_data["mmlu"]), gsm8k_dataset(gsm, max_out_len=24, infer_cfg=dict(
        gsm8k_dataset(gsm)["infer_cfg"], inferencer=dict(type="GenInferencer", max_out_len=24, stop=[])))]
    cfg = write_config(tmp_path / "cfg.py", models, datasets)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    # 1. Start a run and SIGKILL the driver and its worker once part of GSM8K is written.
    work = tmp_path / "crashed"
    proc = subprocess.Popen([sys.executable, "-m", "compass.cli", "run", str(cfg), "-w", str(work)], cwd=tmp_path,
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    preds = None
    while time.time() < deadline:
        if (work / "cfg").exists() and list((work / "cfg").iterdir()):
            preds = _run_dir(work) / "predictions" / "tiny" / "gsm8k-mini.jsonl"
            if len(_complete_lines(preds)) >= 6:
                break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert preds is not None
    finished = _complete_lines(preds)
    assert 6 <= len(finished) < 40, "the kill must land mid-dataset"
    # The worker's first generate() call holds 32 prompts (16 batches of 2): fewer lines on disk
    # show each completion written as it ended, not when the call returned.
    assert len(finished) < 32, len(finished)
    finished_ids = {row["id"] for row in finished}
    run = _run_dir(work)
    events = run / "logs" / "infer" / "tiny.events.jsonl"
    sent_before = len(sent_ids(events))
    with preds.open("a") as f:  # a line the dying writer only half wrote
        f.write('{"id": "torn", "prompt": "Question: half')

    # 2. Resume: every sample ends up predicted once; nothing finished is sent to the model again.
    resumed = compass("run", str(cfg), "-w", str(work), "-r", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    sent_after = sent_ids(events)[sent_before:]
    assert sent_after, "the resumed worker must have predicted the rest"
    assert not finished_ids & set(sent_after), "a finished sample was sent to the model again"
    rows = predictions_of(run, "tiny", "gsm8k-mini")
    assert len(rows) == 40 and len({r.id for r in rows}) == 40
    assert len(scored_of(run, "tiny", "gsm8k-mini")) == 40
    quarantined = preds.with_name("gsm8k-mini.quarantine.jsonl").read_text()
    assert '{\\"id\\": \\"torn\\"' in quarantined  # the torn line is kept aside, not lost

    # 3. Same predictions and results as a run that was never interrupted.
    clean = compass("run", str(cfg), "-w", str(tmp_path / "clean"), cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    clean_run = _run_dir(tmp_path / "clean")
    for ds in ("mmlu-mini", "gsm8k-mini"):
        a = {r.id: r.prediction for r in predictions_of(run, "tiny", ds)}
        b = {r.id: r.prediction for r in predictions_of(clean_run, "tiny", ds)}
        assert a == b, ds
        ra, rb = result_of(run, "tiny", ds), result_of(clean_run, "tiny", ds)
        assert (ra.metrics, ra.ci95, ra.n) == (rb.metrics, rb.ci95, rb.n)

    # 4. Changing only the evaluation re-scores the run with no model call at all.
    datasets[1]["eval_cfg"] = dict(evaluator=dict(type="AccEvaluator"), pred_postprocessor=dict(type="none"))
    write_config(tmp_path / "cfg.py", models, datasets)
    log_before = (run / "logs" / "infer" / "tiny.log").read_text()
    n_events = len(sent_ids(events))
    rescored = compass("run", str(cfg), "-w", str(work), "-r", cwd=tmp_path)
    assert rescored.returncode == 0, rescored.stderr
    assert len(sent_ids(events)) == n_events
    assert (run / "logs" / "infer" / "tiny.log").read_text() == log_before  # no worker even started
    predictions = {p.id: p.prediction for p in predictions_of(run, "tiny", "gsm8k-mini")}
    assert all(r.extracted == predictions[r.id].strip() for r in scored_of(run, "tiny", "gsm8k-mini"))


def test_resume_refuses_predictions_from_another_prompt(tmp_path, mini_data, tiny_model):
    models = [dict(abbr="tiny", path=str(tiny_model), batch_size=8)]
    cfg = write_config(tmp_path / "cfg.py", models, [mmlu_dataset(mini_data["mmlu"])])
    assert compass("run", str(cfg), cwd=tmp_path).returncode == 0
    changed = mmlu_dataset(mini_data["mmlu"])
    changed["infer_cfg"]["prompt_template"]["begin"] = "New instructions.\n"
    write_config(tmp_path / "cfg.py", models, [changed])
    before = {p.name: p.read_bytes() for p in (tmp_path / "outputs" / "cfg").rglob("*") if p.is_file() and p.name != ".lock"}
    proc = compass("run", str(cfg), "-r", cwd=tmp_path)
    assert proc.returncode == 2
    assert "predictions were made with a different model or prompt config" in error_line(proc)
    assert "accuracy" not in proc.stdout  # no leaderboard after a refusal
    after = {p.name: p.read_bytes() for p in (tmp_path / "outputs" / "cfg").rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before  # the refused config was written nowhere
    # A batch-size change is speed only: resuming with it is fine and predicts nothing new.
    models[0]["batch_size"] = 3
    write_config(tmp_path / "cfg.py", models, [mmlu_dataset(mini_data["mmlu"])])
    assert compass("run", str(cfg), "-r", cwd=tmp_path).returncode == 0


def test_a_mismatch_found_by_the_worker_is_a_config_error_too(tmp_path, mini_data, tiny_model):
    """With the meta file gone, only the prediction lines themselves tell which config made them:
    the worker refuses to mix them with another prompt's, and the run exits 2 like any config error."""
    models = [dict(abbr="tiny", path=str(tiny_model), batch_size=8)]
    cfg = write_config(tmp_path / "cfg.py", models, [mmlu_dataset(mini_data["mmlu"])])
    assert compass("run", str(cfg), cwd=tmp_path).returncode == 0
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    (run / "predictions" / "tiny" / "mmlu-mini.meta.json").unlink()
    lines_before = (run / "predictions" / "tiny" / "mmlu-mini.jsonl").read_bytes()
    changed = mmlu_dataset(mini_data["mmlu"])
    changed["infer_cfg"]["prompt_template"]["begin"] = "New instructions.\n"
    write_config(tmp_path / "cfg.py", models, [changed])
    proc = compass("run", str(cfg), "-r", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "made with a different model or prompt config" in proc.stderr
    assert (run / "predictions" / "tiny" / "mmlu-mini.jsonl").read_bytes() == lines_before  # nothing destroyed
