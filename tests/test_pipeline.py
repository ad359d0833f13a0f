"""End to end through ``compass run``: the run directory contract, summaries, failures, report."""
from __future__ import annotations

import shutil

from helpers import REPO, compass, gsm8k_dataset, mmlu_dataset, predictions_of, result_of, scored_of, write_config


def test_run_writes_the_contracted_files(tmp_path, mini_data, tiny_model):
    models = [dict(abbr="tiny", path=str(tiny_model), batch_size=4), dict(abbr="tiny-2", path=str(tiny_model))]
    cfg = write_config(tmp_path / "cfg.py", models, [mmlu_dataset(mini_data["mmlu"]), gsm8k_dataset(mini_data["gsm8k"])],
                       summarizer=dict(summary_groups=[dict(name="both", subsets=["mmlu-mini", "gsm8k-mini"])]),
                       infer=dict(runner=dict(max_num_workers=2)))
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    for model in ("tiny", "tiny-2"):
        for ds, n in (("mmlu-mini", 12), ("gsm8k-mini", 8)):
            predictions = predictions_of(run, model, ds)
            scored = scored_of(run, model, ds)
            assert len(predictions) == len(scored) == n
            assert {p.id for p in predictions} == {r.id for r in scored}
            assert all(isinstance(r.correct, bool) and r.score is None for r in scored)
            result = result_of(run, model, ds)
            k = sum(bool(r.correct) for r in scored)
            assert result.n == n and result.metrics["accuracy"] == k / n
            lo, hi = result.ci95["accuracy"]
            assert 0 <= lo <= k / n <= hi <= 1
            assert result.config_hash and result.compass_version
    mmlu = result_of(run, "tiny", "mmlu-mini")
    assert set(mmlu.breakdown) == {"elementary_arithmetic", "unit_conversion"}
    # Both models' runs are deterministic and identical (same weights): scores agree.
    assert result_of(run, "tiny-2", "mmlu-mini").metrics == mmlu.metrics
    text = (run / "summary" / "summary.txt").read_text()
    for name in ("mmlu-mini", "gsm8k-mini", "both", "tiny", "tiny-2"):
        assert name in text
    assert text in proc.stdout  # the leaderboard is printed at the end
    assert (run / "summary" / "summary.csv").read_text().startswith("dataset,metric,tiny,tiny_ci_lo")
    assert "| mmlu-mini | accuracy |" in (run / "summary" / "summary.md").read_text()
    assert (run / "configs" / "cfg.py").exists() and (run / "configs" / "resolved.json").exists()
    assert (run / "logs" / "infer" / "tiny.log").exists() and (run / "logs" / "eval" / "tiny.log").exists()

    # `compass report` on a copy of the run reproduces the summaries byte for byte.
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    for f in (copy / "summary").iterdir():
        f.unlink()
    rep = compass("report", str(copy), cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    for name in ("summary.txt", "summary.csv", "summary.md", "summary.html"):
        assert (copy / "summary" / name).read_bytes() == (run / "summary" / name).read_bytes()


def test_failed_task_shows_its_own_error_line(tmp_path, mini_data, tiny_model):
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    models = [dict(abbr="broken", path=str(broken)), dict(abbr="tiny", path=str(tiny_model))]
    cfg = write_config(tmp_path / "cfg.py", models, [mmlu_dataset(mini_data["mmlu"])],
                       infer=dict(runner=dict(retry=1)))
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    failure = next(line for line in lines if line.strip().startswith("broken (exit"))
    assert "2 attempt(s)" in failure and "Error" in failure and "see log" not in failure
    assert "logs/infer/broken.log" in failure
    # The healthy model still finished and is on the leaderboard.
    assert "tiny" in proc.stdout and "mmlu-mini" in proc.stdout


def test_dry_run_loads_no_model_and_no_data(tmp_path):
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path=str(tmp_path / "no-such-model"))],
                       [mmlu_dataset(tmp_path / "no-such-data")])
    proc = compass("run", str(cfg), "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "task m: model m" in proc.stdout and "mmlu-mini" in proc.stdout
    assert not (tmp_path / "outputs").exists()
    real = compass("run", str(cfg), cwd=tmp_path)
    assert real.returncode == 2 and "no-such-model does not exist" in real.stderr


def test_internlm2_example_offline(tmp_path):
    proc = compass("run", "examples/eval_internlm2_20b.py", "-w", str(tmp_path), cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "weights for 'internlm/internlm2-20b' are not available" in proc.stderr


def test_list_and_help():
    listing = compass("list", cwd=REPO)
    assert listing.returncode == 0 and "mmlu-mini" in listing.stdout and "internlm2-20b" in listing.stdout
    help_text = compass("run", "--help", cwd=REPO).stdout
    for word in ("--dry-run", "-r", "resume", "exit codes"):
        assert word in help_text


def test_report_merges_runs_and_picks_formats(tmp_path, mini_data, tiny_model):
    ds = [mmlu_dataset(mini_data["mmlu"], reader_cfg=dict(test_range="[0:4]"))]
    runs = []
    for name in ("first", "second"):
        cfg = write_config(tmp_path / f"{name}.py", [dict(abbr="tiny", path=str(tiny_model))], ds)
        assert compass("run", str(cfg), cwd=tmp_path).returncode == 0
        (run,) = list((tmp_path / "outputs" / name).iterdir())
        runs.append(run)
    merged = compass("report", str(runs[0]), str(runs[1]), "-o", str(tmp_path / "merged"), "--format", "md,csv",
                     cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert sorted(p.name for p in (tmp_path / "merged").iterdir()) == ["summary.csv", "summary.md"]
    header = (tmp_path / "merged" / "summary.md").read_text().splitlines()[0]
    assert f"tiny (first/{runs[0].name})" in header and f"tiny (second/{runs[1].name})" in header
    bad = compass("report", str(runs[0]), "--format", "pdf", cwd=tmp_path)
    assert bad.returncode == 2 and "--format: unknown format 'pdf'" in bad.stderr
    needs_out = compass("report", str(runs[0]), str(runs[1]), cwd=tmp_path)
    assert needs_out.returncode == 2 and "--out" in needs_out.stderr
    not_run = compass("report", str(tmp_path), cwd=tmp_path)
    assert not_run.returncode == 2 and "not a run directory" in not_run.stderr
