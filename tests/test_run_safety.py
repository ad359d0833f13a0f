"""What a careless user (or a hostile config) hits: names that are not file names, bad numbers,
empty data, prompts that cannot be right, two runs on one directory, a killed driver, file modes."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compass.errors import CompassError
from compass.store import RunDir, name_of, safe_name

from helpers import compass, error_line, gsm8k_dataset, mmlu_dataset, result_of, write_config


@pytest.mark.parametrize("abbr", ["myorg/refdemo", "../escape", "..", "模型 v2", "a%2Fb", ".hidden"])
def test_any_abbr_stays_inside_the_work_dir_and_is_found_again(tmp_path, mini_data, tiny_model, abbr):
    ds = mmlu_dataset(mini_data["mmlu"], abbr=f"set/{abbr}", reader_cfg=dict(test_range="[0:2]"))
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr=abbr, path=str(tiny_model))], [ds])
    (tmp_path / "work").mkdir()
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    proc = compass("run", str(cfg), "-w", str(tmp_path / "work" / "runs"), cwd=tmp_path / "work")
    assert proc.returncode == 0, proc.stderr
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - before
    assert written and all((tmp_path / "work" / "runs") in p.parents for p in written), sorted(written)
    (run,) = list((tmp_path / "work" / "runs" / "cfg").iterdir())
    assert result_of(run, abbr, f"set/{abbr}").n == 2  # found again by its abbr, whatever it holds
    assert abbr in proc.stdout  # the leaderboard shows the name itself


def test_safe_names_are_one_plain_file_name_each_and_map_back():
    names = ["myorg/refdemo", "myorg_refdemo", "myorg%2Frefdemo", "../x", "..", ".", "a b", "模型", "a\\b", "x" * 60,
             "con", "-rf", "a\nb"]
    files = [safe_name(n) for n in names]
    assert len(set(files)) == len(names)  # two names never share a file
    assert all("/" not in f and f not in (".", "..") and not f.startswith(".") for f in files)
    assert [name_of(f) for f in files] == names
    with pytest.raises(CompassError, match="must not be empty"):
        safe_name("")


@pytest.mark.parametrize("model,dataset,message", [
    (dict(abbr=""), {}, "models[0].abbr: must not be empty"),
    (dict(abbr="  "), {}, "models[0].abbr: must not be empty"),
    ({}, dict(abbr=""), "datasets[0].abbr: must not be empty"),
    (dict(max_out_len=10**9), {}, "max_out_len: 1000000000 new tokens do not fit in max_seq_len"),
])
def test_bad_names_and_absurd_numbers_are_config_errors(tmp_path, mini_data, tiny_model, model, dataset, message):
    cfg = write_config(tmp_path / "cfg.py", [{**dict(abbr="m", path=str(tiny_model)), **model}],
                       [{**mmlu_dataset(mini_data["mmlu"]), **dataset}])
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 2 and message in error_line(proc)
    assert not (tmp_path / "outputs").exists()


def test_lengths_beyond_the_models_context_stop_before_any_worker(tmp_path, mini_data, tiny_model):
    context = __import__("json").loads((tiny_model / "config.json").read_text())["max_position_embeddings"]
    model = dict(abbr="m", path=str(tiny_model), max_out_len=context, max_seq_len=context + 100)
    cfg = write_config(tmp_path / "cfg.py", [model], [gsm8k_dataset(mini_data["gsm8k"], max_out_len=context)])
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 2 and "do not fit in the model's context" in error_line(proc)
    # Scoring generates nothing: the same model on a multiple-choice set is fine.
    write_config(tmp_path / "cfg.py", [model], [mmlu_dataset(mini_data["mmlu"], reader_cfg=dict(test_range="[0:2]"))])
    assert compass("run", str(cfg), cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("args,message", [(["--max-workers", "0"], "--max-workers: must be >= 1"),
                                          (["--retry", "-1"], "--retry: must be >= 0")])
def test_nonsensical_command_line_numbers(tmp_path, mini_data, tiny_model, args, message):
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path=str(tiny_model))], [mmlu_dataset(mini_data["mmlu"])])
    proc = compass("run", str(cfg), *args, cwd=tmp_path)
    assert proc.returncode == 2 and message in error_line(proc)


@pytest.mark.parametrize("edit,message", [
    (dict(reader_cfg=dict(test_range="[500:600]")), "no samples to evaluate"),
    (dict(infer_cfg_template="{quesion}\nAnswer:"), "{quesion} names no column (did you mean {question}?"),
    (dict(infer_cfg_template="Answer the question.\nAnswer:"), "names no column of the data"),
    (dict(choices=["1", "2", "3", "4"]), "which is none of the choices"),
])
def test_prompts_and_golds_that_cannot_be_right_stop_before_the_model(tmp_path, mini_data, tiny_model, edit,
                                                                      message):
    ds = mmlu_dataset(mini_data["mmlu"])
    if "reader_cfg" in edit:
        ds["reader_cfg"] = {**ds["reader_cfg"], **edit["reader_cfg"]}
    if "infer_cfg_template" in edit:
        ds["infer_cfg"]["prompt_template"] = dict(template=edit["infer_cfg_template"])
    if "choices" in edit:
        ds["infer_cfg"]["inferencer"] = dict(type="PPLInferencer", choices=edit["choices"])
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path=str(tiny_model))], [ds])
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 2 and message in error_line(proc)
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("key,template,field", [("template", "Question: {question}\nAnswer: {answer}", "answer"),
                                                ("begin", "Hint: {raw_answer}\n\n", "raw_answer")])
def test_a_prompt_that_shows_each_sample_its_own_answer_stops_before_the_model(tmp_path, mini_data, tiny_model,
                                                                               key, template, field):
    """A copied gold scores near 100% with exit 0; few-shot examples (ice_template) may show answers."""
    ds = gsm8k_dataset(mini_data["gsm8k"])
    ds["infer_cfg"]["prompt_template"] = {**ds["infer_cfg"]["prompt_template"], key: template}
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path=str(tiny_model))], [ds])
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 2 and f"prompt_template.{key}: {{{field}}} holds each sample's answer" in error_line(proc)
    assert not (tmp_path / "outputs").exists()


def test_a_custom_datasets_output_column_is_its_answer(tmp_path):
    from compass import datasets
    from compass.config import load_config
    from compass.preflight import check_prompts

    (tmp_path / "test.jsonl").write_text('{"q": "two plus two", "a": "4", "topic": "math"}\n')
    ds = dict(abbr="mine", type="custom", path=str(tmp_path), reader_cfg=dict(input_columns=["q"], output_column="a"),
              infer_cfg=dict(prompt_template=dict(template="Q: {q} ({topic}, {a})\nA:"),
                             inferencer=dict(type="GenInferencer", max_out_len=4)),
              eval_cfg=dict(evaluator=dict(type="AccEvaluator")))
    cfg = load_config(write_config(tmp_path / "c.py", [dict(abbr="m", path="x")], [ds])).datasets[0]
    with pytest.raises(CompassError, match=r"\{a\} holds each sample's answer"):
        check_prompts(cfg, datasets.load(cfg), "here")
    fixed = load_config(write_config(tmp_path / "c.py", [dict(abbr="m", path="x")], [{**ds, "infer_cfg": {
        **ds["infer_cfg"], "prompt_template": dict(template="Q: {q} ({topic})\nA:")}}])).datasets[0]
    check_prompts(fixed, datasets.load(fixed), "here")  # other columns stay usable


def test_latex_braces_in_a_template_are_not_placeholders(tmp_path, mini_data, tiny_model):
    ds = mmlu_dataset(mini_data["mmlu"], reader_cfg=dict(test_range="[0:2]"))
    ds["infer_cfg"]["prompt_template"] = dict(template="Solve $\\frac{a}{b}$: {question}\nA. {A}\nAnswer:")
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path=str(tiny_model))], [ds])
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_a_relative_path_from_the_wrong_directory_says_where_it_looked(tmp_path, mini_data, tiny_model):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path="models/tiny-model")],
                       [gsm8k_dataset(Path("data/gsm8k/x"))])
    proc = compass("run", str(cfg), cwd=elsewhere)
    assert proc.returncode == 2
    line = error_line(proc)
    assert "models/tiny-model does not exist" in line and f"current directory, {elsewhere}" in line


def test_a_path_beside_the_config_but_not_here_names_both_places(tmp_path, mini_data, tiny_model):
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    shutil.copytree(tiny_model, project / "models" / "tiny")
    cfg = write_config(project / "cfg.py", [dict(abbr="m", path="models/tiny")], [mmlu_dataset(mini_data["mmlu"])])
    proc = compass("run", str(cfg), cwd=tmp_path)
    line = error_line(proc)
    assert proc.returncode == 2 and f"current directory ({tmp_path})" in line and str(project) in line
    assert compass("run", str(cfg), "--dry-run", cwd=project).returncode == 0


def test_a_failed_run_labels_its_leaderboard_partial(tmp_path, mini_data, tiny_model):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_model.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"not weights")
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="broken", path=str(broken)), dict(abbr="tiny", path=str(tiny_model))],
                       [mmlu_dataset(mini_data["mmlu"], reader_cfg=dict(test_range="[0:2]"))],
                       infer=dict(runner=dict(retry=0)))
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith("PARTIAL results (1 task(s) failed)")
    assert "run directory" not in proc.stdout


def test_a_second_run_on_a_locked_directory_says_who_holds_it(tmp_path, mini_data, tiny_model):
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path=str(tiny_model))], [mmlu_dataset(mini_data["mmlu"])])
    assert compass("run", str(cfg), cwd=tmp_path).returncode == 0
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    with RunDir(run).lock("a test holding the run"):
        proc = compass("run", str(cfg), "-r", cwd=tmp_path)
        assert proc.returncode == 2
        line = error_line(proc)
        assert f"pid {os.getpid()}" in line and "a test holding the run" in line
    assert compass("run", str(cfg), "-r", cwd=tmp_path).returncode == 0  # released: fine again


def test_workers_die_with_a_killed_driver_and_keep_the_directory_locked_meanwhile(tmp_path, tiny_model):
    from compass.synthetic import write_gsm8k

    gsm = write_gsm8k(tmp_path / "gsm", n_train=2, n_test=300)  # minutes of work: the kill lands mid-way
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path=str(tiny_model), batch_size=1, max_out_len=64)],
                       [gsm8k_dataset(gsm, max_out_len=64, infer_cfg=dict(gsm8k_dataset(gsm)["infer_cfg"], inferencer=dict(
                           type="GenInferencer", max_out_len=64, stop=[])))])
    driver = subprocess.Popen([sys.executable, "-m", "compass.cli", "run", str(cfg)], cwd=tmp_path,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    preds = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        found = list((tmp_path / "outputs").rglob("gsm8k-mini.jsonl"))
        if found and found[0].stat().st_size > 0:
            preds = found[0]
            break
        time.sleep(0.05)
    assert preds is not None
    worker = _worker_of(driver.pid)
    assert worker is not None and _state(worker) in ("R", "S", "D"), "the worker must still be at work"
    driver.send_signal(signal.SIGKILL)  # only the driver: its worker is not in the kill
    driver.wait()
    for _ in range(200):  # the kernel delivers the worker's parent-death signal at once
        if not Path(f"/proc/{worker}").exists() or _state(worker) == "Z":
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{worker}").exists() or _state(worker) == "Z", "the worker outlived its driver"
    size = preds.stat().st_size
    time.sleep(1.0)
    assert preds.stat().st_size == size  # nobody writes to the run any more
    # And nothing holds the run: a resume is accepted (its worker is stopped as soon as it starts).
    lock = RunDir(preds.parent.parent.parent).lock("the test, after the kill")
    lock.release()


def _worker_of(pid: int) -> int | None:
    for _ in range(100):
        children = Path(f"/proc/{pid}/task/{pid}/children")
        if children.exists() and children.read_text().split():
            return int(children.read_text().split()[0])
        time.sleep(0.05)
    return None


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "gone"


def test_files_honour_the_umask(tmp_path, mini_data, tiny_model):
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path=str(tiny_model))],
                       [mmlu_dataset(mini_data["mmlu"], reader_cfg=dict(test_range="[0:2]"))])
    proc = subprocess.run(f"umask 022 && {sys.executable} -m compass.cli run {cfg}", shell=True, cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    for name in ("summary/summary.html", "results/m/mmlu-mini.json", "scored/m/mmlu-mini.jsonl",
                 "predictions/m/mmlu-mini.meta.json", "configs/resolved.json"):
        assert (run / name).stat().st_mode & 0o777 == 0o644, name
