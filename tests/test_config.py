"""Bad configs end in exit code 2 and one line naming the file and the key."""
from __future__ import annotations

import json

import pytest

from compass.config import load_config
from compass.errors import CompassError

from helpers import compass, error_line, gsm8k_dataset, mmlu_dataset, write_config


@pytest.fixture()
def good(tmp_path, mini_data):
    return dict(models=[dict(abbr="m", path=str(tmp_path / "model"))],
                datasets=[mmlu_dataset(mini_data["mmlu"]), gsm8k_dataset(mini_data["gsm8k"])])


def test_good_config_loads_with_canonical_types(tmp_path, good):
    cfg = load_config(write_config(tmp_path / "ok.py", **good))
    assert [d.type for d in cfg.datasets] == ["mmlu", "gsm8k"]
    assert cfg.datasets[0].infer_cfg.inferencer.type == "loglikelihood"
    assert cfg.datasets[0].infer_cfg.retriever.k == 2
    assert cfg.models[0].batch_size == 8 and cfg.models[0].type == "hf"


BAD = {
    "unknown model key": (lambda g: g["models"][0].update(batchsize=4), "models[0].batchsize",
                          "did you mean 'batch_size'"),
    "wrong type": (lambda g: g["models"][0].update(batch_size="8"), "models[0].batch_size", "expected int"),
    "missing path": (lambda g: g["models"][0].pop("path"), "models[0].path", "required key is missing"),
    "unknown dataset type": (lambda g: g["datasets"][0].update(type="MMLUDatset"), "datasets[0].type",
                             "did you mean 'MMLUDataset'"),
    "nested wrong type": (lambda g: g["datasets"][1]["reader_cfg"].update(input_columns="question"),
                          "datasets[1].reader_cfg.input_columns", "expected list of str"),
    "unknown inferencer": (lambda g: g["datasets"][1]["infer_cfg"]["inferencer"].update(type="Beam"),
                           "datasets[1].infer_cfg.inferencer.type", "unknown type 'Beam'"),
    "bad test_range": (lambda g: g["datasets"][0]["reader_cfg"].update(test_range="0:10"),
                       "datasets[0].reader_cfg.test_range", "slice like"),
    "duplicate abbr": (lambda g: g["datasets"][1].update(abbr="mmlu-mini"), "datasets[1].abbr", "duplicate"),
    "bool for int": (lambda g: g["models"][0].update(max_out_len=True), "models[0].max_out_len", "expected int"),
    "negative batch": (lambda g: g["models"][0].update(batch_size=0), "models[0].batch_size", "must be >= 1"),
    "partitioner n": (lambda g: g.update(infer=dict(partitioner=dict(type="NaivePartitioner", n=0))),
                      "infer.partitioner.n", "must be >= 1"),
    "partitioner key": (lambda g: g.update(infer=dict(partitioner=dict(type="NaivePartitioner", size=2))),
                        "infer.partitioner.size", "unknown key"),
    "max_batch_tokens": (lambda g: g["models"][0].update(max_batch_tokens=0), "models[0].max_batch_tokens",
                         "must be >= 1"),
    "fewshot without template": (lambda g: g["datasets"][0]["infer_cfg"].pop("ice_template"),
                                 "datasets[0].infer_cfg.ice_template", "needs an ice_template"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_is_one_line_naming_file_and_key(tmp_path, good, case):
    mutate, key, message = BAD[case]
    mutate(good)
    path = write_config(tmp_path / "bad.py", **good)
    with pytest.raises(CompassError) as err:
        load_config(path)
    text = str(err.value)
    assert str(path) in text and key in text and message in text, text
    assert "\n" not in text


def test_partitioner_keeps_a_models_datasets_together_unless_split(tmp_path, good):
    from compass.plan import plan

    good["models"].append(dict(abbr="m2", path=str(tmp_path / "model")))
    together = plan(load_config(write_config(tmp_path / "a.py", **good)))
    assert [(t.id, [d.abbr for d in t.datasets]) for t in together] == [
        ("m", ["mmlu-mini", "gsm8k-mini"]), ("m2", ["mmlu-mini", "gsm8k-mini"])]
    split = plan(load_config(write_config(tmp_path / "b.py", **good, infer=dict(partitioner=dict(n=1)))))
    assert [(t.id, [d.abbr for d in t.datasets]) for t in split] == [
        ("m-part0", ["mmlu-mini"]), ("m-part1", ["gsm8k-mini"]), ("m2-part0", ["mmlu-mini"]),
        ("m2-part1", ["gsm8k-mini"])]


def test_cli_bad_config_exits_2_without_traceback(tmp_path, good):
    good["models"][0]["batch_size"] = "eight"
    path = write_config(tmp_path / "bad.py", **good)
    proc = compass("run", str(path), "--dry-run", cwd=tmp_path)
    assert proc.returncode == 2
    line = error_line(proc)
    assert line.startswith("compass: error:") and str(path) in line and "models[0].batch_size" in line


def test_cli_debug_shows_traceback(tmp_path, good):
    good["models"][0]["batch_size"] = "eight"
    proc = compass("run", str(write_config(tmp_path / "bad.py", **good)), "--debug", "--dry-run", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_missing_top_level_and_typo(tmp_path, good):
    (tmp_path / "typo.py").write_text(f"models = {good['models']!r}\ndataset = []\n")
    with pytest.raises(CompassError, match=r"typo.py: dataset: unknown top-level key \(did you mean 'datasets'"):
        load_config(tmp_path / "typo.py")
    (tmp_path / "nodata.py").write_text(f"models = {good['models']!r}\n")
    with pytest.raises(CompassError, match=r"nodata.py: datasets: required top-level key is missing"):
        load_config(tmp_path / "nodata.py")


def test_syntax_error_and_missing_file(tmp_path):
    (tmp_path / "broken.py").write_text("models = [dict(abbr='x',\n")
    with pytest.raises(CompassError, match=r"broken.py:\d+: syntax error"):
        load_config(tmp_path / "broken.py")
    with pytest.raises(CompassError, match=r"nope.py: config file not found"):
        load_config(tmp_path / "nope.py")


def test_shipped_configs_validate(tmp_path):
    from helpers import REPO

    for name in ("eval_demo.py", "eval_internlm2_20b.py"):
        proc = compass("run", f"examples/{name}", "--dry-run", cwd=REPO)
        assert proc.returncode == 0, proc.stderr
        assert "task" in proc.stdout


def test_nested_optional_section_names_the_wrong_key(tmp_path, good):
    good["datasets"][0]["infer_cfg"]["ice_template"] = dict(template="x", begn="typo")
    with pytest.raises(CompassError, match=r"datasets\[0\].infer_cfg.ice_template.begn: unknown key \(did you mean 'begin'"):
        load_config(write_config(tmp_path / "bad.py", **good))


# -- config files are Python: imports, the environment, helpers, clear failures -----------------
def test_a_config_may_import_and_read_the_environment(tmp_path, monkeypatch):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "models.py").write_text("import os\nmodels = [dict(abbr='m', path=os.environ['MODEL_DIR'])]\n")
    (tmp_path / "cfg.py").write_text(
        "import os\nfrom pathlib import Path\nfrom mmengine.config import read_base\n\nwith read_base():\n"
        "    from .parts.models import models\n\n_base = Path(os.environ['DATA_ROOT'])\n"
        "model_bs1 = [dict(m, batch_size=1) for m in models]  # a helper name, not a typo of 'models'\n"
        "datasets = [dict(abbr='d', type='gsm8k', path=str(_base / 'gsm8k'),\n"
        "                 infer_cfg=dict(prompt_template=dict(template='{question}'), inferencer=dict(type='generate')),\n"
        "                 eval_cfg=dict(evaluator=dict(type='accuracy')))]\n")
    monkeypatch.setenv("MODEL_DIR", "/models/m")
    monkeypatch.setenv("DATA_ROOT", "/data")
    cfg = load_config(tmp_path / "cfg.py")
    assert cfg.models[0].path == "/models/m" and cfg.datasets[0].path == "/data/gsm8k"


@pytest.mark.parametrize("body,where,message", [
    ("import os\nmodels = []\nx = os.environ['NO_SUCH_VARIABLE_X']\n", "cfg.py:3", "KeyError: 'NO_SUCH_VARIABLE_X'"),
    ("import no_such_module_x\n", "cfg.py:1", "ModuleNotFoundError: No module named 'no_such_module_x'"),
    ("from mmengine.config import read_base\nwith read_base():\n    from .nope import models\n", "cfg.py",
     "no config file"),
    ("models = [\n", "cfg.py:1", "syntax error"),
    ("models = 1 / 0\n", "cfg.py:1", "ZeroDivisionError: division by zero"),
])
def test_a_failing_config_names_its_file_and_line(tmp_path, body, where, message):
    (tmp_path / "cfg.py").write_text(body)
    with pytest.raises(CompassError) as err:
        load_config(tmp_path / "cfg.py")
    assert where in str(err.value) and message in str(err.value) and "\n" not in str(err.value)


def test_shipped_configs_read_the_same_as_with_mmengine():
    """Cross-check of the config reader against mmengine's, on every shipped config."""
    from mmengine.config import Config as MMConfig

    from compass.config.pyfile import read_python_config

    from helpers import REPO

    files = sorted({*REPO.glob("examples/eval_*.py"), *REPO.glob("datasets_cfg/*/*.py"), *REPO.glob("models_cfg/*.py"),
                    *REPO.glob("summarizers/*.py")})
    checked = 0
    for file in files:
        ours = read_python_config(file)
        theirs = {k: v for k, v in MMConfig.fromfile(str(file))._cfg_dict.to_dict().items()
                  if not k.startswith("_") and not callable(v)}  # mmengine keeps the imported read_base
        assert ours == json.loads(json.dumps(theirs, default=str)), file
        checked += 1
    assert checked >= 20
