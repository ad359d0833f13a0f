"""Configs without editing files: --cfg-options overrides and the quick mode give the same results
as the equivalent config file; and compass runs from any folder, even one holding a `compass/`."""
from __future__ import annotations

import shutil

from helpers import REPO, compass, error_line, mmlu_dataset, result_of, write_config

RANGES = ["datasets.0.reader_cfg.test_range=[0:24]", "datasets.1.reader_cfg.test_range=[0:6]"]


def _results(work, name: str) -> dict:
    (run,) = list((work / name).iterdir())
    return {ds: (r.metrics, r.ci95, r.n, r.prompt_hash) for ds in ("mmlu-mini", "gsm8k-mini")
            for r in [result_of(run, "reference-demo", ds)]}


def test_overrides_and_quick_mode_equal_the_config_file(tmp_path):
    # The reference: a config file saying what the overrides say.
    config = (REPO / "examples" / "eval_demo.py").read_text().replace("..datasets_cfg", "datasets_cfg") \
        .replace("..models_cfg", "models_cfg")
    config += ("datasets[0] = dict(datasets[0], reader_cfg=dict(datasets[0]['reader_cfg'], test_range='[0:24]'))\n"
               "datasets[1] = dict(datasets[1], reader_cfg=dict(datasets[1]['reader_cfg'], test_range='[0:6]'))\n")
    (tmp_path / "written.py").write_text(config.replace("from datasets_cfg", "from .datasets_cfg")
                                         .replace("from models_cfg", "from .models_cfg"))
    for folder in ("datasets_cfg", "models_cfg", "summarizers"):
        (tmp_path / folder).symlink_to(REPO / folder)
    work = tmp_path / "out"
    proc = compass("run", str(tmp_path / "written.py"), "-w", str(work), cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    reference = _results(work, "written")
    assert reference["mmlu-mini"][2] == 24 and reference["gsm8k-mini"][2] == 6

    proc = compass("run", "examples/eval_demo.py", "--cfg-options", *RANGES, "models.0.batch_size=3",
                   "-w", str(work), cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert _results(work, "eval_demo") == reference  # batch size changes nothing; the ranges took effect

    proc = compass("run", "--models", "reference_demo", "--datasets", "mmlu_mini_ppl", "gsm8k_mini_gen",
                   "--cfg-options", *RANGES, "-w", str(work), cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert _results(work, "quick") == reference
    (quick_run,) = list((work / "quick").iterdir())
    assert "models = " in (quick_run / "configs" / "quick.py").read_text()  # what ran is kept


def test_bad_overrides_and_quick_specs_are_one_line_errors(tmp_path):
    for args, message in ((["examples/eval_demo.py", "--cfg-options", "models.3.batch_size=1"], "index 3 out of range"),
                          (["examples/eval_demo.py", "--cfg-options", "models.0.batchsize=1"],
                           "models[0].batchsize: unknown key (did you mean 'batch_size'?)"),
                          (["examples/eval_demo.py", "--cfg-options", "novalue"], "expected KEY=VALUE"),
                          (["--models", "no_such_model", "--datasets", "gsm8k_mini_gen"], "no config"),
                          (["--models", "reference_demo"], "a config file is needed")):
        proc = compass("run", *args, "--dry-run", cwd=REPO)
        assert proc.returncode == 2 and message in error_line(proc), (args, proc.stderr)


def test_runs_from_a_folder_holding_a_clone_named_compass(tmp_path, mini_data, tiny_model):
    shadow = tmp_path / "compass"  # e.g. `git clone .../compass` next to one's configs
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('the wrong compass: a folder, not the package')\n")
    (shadow / "tasks").mkdir()
    write_config(tmp_path / "cfg.py", [dict(abbr="m", path=str(tiny_model))],
                 [mmlu_dataset(mini_data["mmlu"], reader_cfg=dict(test_range="[0:2]"))])
    proc = compass("run", "cfg.py", cwd=tmp_path, run_as_module=False)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(shadow)
