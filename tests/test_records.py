"""The run files' one reader and writer: versions, damaged lines kept aside, JSON Schemas that match
the code and the files a real run writes."""
from __future__ import annotations

import json
import math

import jsonschema
import pytest

from compass import records
from compass.errors import CompassError
from compass.records import Prediction, Result, Scored

from helpers import REPO, compass, gsm8k_dataset, mmlu_dataset, write_config


def _prediction(i: int) -> Prediction:
    return Prediction(str(i), "h", f"prompt {i}", f"answer {i}", "gold")


def test_damaged_lines_are_reported_and_the_lines_after_them_still_count(tmp_path):
    path = tmp_path / "p.jsonl"
    records.write_lines(path, [_prediction(i) for i in range(5)])
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(2, "garbage in the middle\n")
    lines.insert(4, json.dumps({**json.loads(lines[3]), "schema_version": 99}) + "\n")  # from a newer compass
    path.write_text("".join(lines) + '{"id": "torn", "infer_ha')
    log = records.read_log(path, Prediction)
    assert [p.id for p in log.records] == ["0", "1", "2", "3", "4"]
    assert [d.lineno for d in log.damaged] == [3, 5, 8]
    assert "schema_version 99" in log.damaged[1].reason and "torn" in log.damaged[2].reason

    # Repair: damaged lines go to the quarantine file with their line numbers, the good ones stay.
    side = records.quarantine(path, log.records, log.damaged)
    assert side is not None and [json.loads(x)["line"] for x in side.read_text().splitlines()] == [3, 5, 8]
    assert records.read_log(path, Prediction) == records.Log(log.records, [])


def test_an_append_after_a_torn_line_starts_on_a_line_of_its_own(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(records.dumps(_prediction(0)) + "\n" + '{"id": "1", "pro')
    with records.Appender(path) as out:
        out.append([_prediction(2)])
    log = records.read_log(path, Prediction)
    assert [p.id for p in log.records] == ["0", "2"] and len(log.damaged) == 1


def test_versions_types_and_nan_are_refused_in_one_line(tmp_path):
    good = json.loads(records.dumps(_prediction(1)))
    for bad, message in (({**good, "schema_version": 0}, "schema_version 0"),
                         ({k: v for k, v in good.items() if k != "schema_version"}, "older compass"),
                         ({**good, "prediction": 3}, "prediction: expected"),
                         ({**good, "surprise": 1}, "surprise: unknown key")):
        with pytest.raises(CompassError, match=message):
            records.decode(Prediction, bad, "f.jsonl:1")
    with pytest.raises(CompassError, match="exactly one of 'correct' and 'score'"):
        records.decode(Scored, {"id": "1", "evaluator": "x", "extracted": "", "schema_version": 1}, "s")
    result = Result("m", "d", 0, "accuracy", {"accuracy": math.nan}, {"accuracy": [0.0, 1.0]}, "accuracy",
                    "h", "h", "v", "p", "p")
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        records.write_record(tmp_path / "r.json", result)
    assert not (tmp_path / "r.json").exists()


def test_documented_schemas_are_the_code_and_validate_a_real_run(tmp_path, mini_data, tiny_model):
    for kind, cls in records.KINDS.items():
        documented = json.loads((REPO / "docs" / "schemas" / f"{kind}.schema.json").read_text())
        assert documented == records.json_schema(cls), f"docs/schemas/{kind}.schema.json is stale: " \
                                                       f"run python -m compass.records docs/schemas"
        jsonschema.Draft202012Validator.check_schema(documented)
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model), batch_size=4)],
                       [mmlu_dataset(mini_data["mmlu"]), gsm8k_dataset(mini_data["gsm8k"])])
    assert compass("run", str(cfg), cwd=tmp_path).returncode == 0
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    checked = dict.fromkeys(records.KINDS, 0)
    for kind, pattern in (("prediction", "predictions/*/*[!e].jsonl"), ("scored", "scored/*/*.jsonl"),
                          ("event", "logs/infer/*.events.jsonl"), ("result", "results/*/*.json"),
                          ("prediction_meta", "predictions/*/*.meta.json")):
        schema = json.loads((REPO / "docs" / "schemas" / f"{kind}.schema.json").read_text())
        for path in run.glob(pattern):
            docs = [json.loads(x) for x in path.read_text().splitlines()] if path.suffix == ".jsonl" \
                else [json.loads(path.read_text())]
            for doc in docs:
                jsonschema.validate(doc, schema)
                checked[kind] += 1
    assert checked["prediction"] == checked["scored"] == 20 and checked["result"] == checked["prediction_meta"] == 2
    assert checked["event"] >= 1
    # A file that breaks the schema is caught by it (the check is not vacuous).
    broken = json.loads((run / "results" / "tiny" / "mmlu-mini.json").read_text())
    broken["metrics"]["accuracy"] = "high"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads((REPO / "docs" / "schemas" / "result.schema.json").read_text()))


def test_results_carry_inference_times_and_token_counts(tmp_path, mini_data, tiny_model):
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model), batch_size=4)],
                       [mmlu_dataset(mini_data["mmlu"]), gsm8k_dataset(mini_data["gsm8k"])])
    assert compass("run", str(cfg), cwd=tmp_path).returncode == 0
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    mmlu = records.read_record(run / "results" / "tiny" / "mmlu-mini.json", Result).timing
    gsm = records.read_record(run / "results" / "tiny" / "gsm8k-mini.json", Result).timing
    assert mmlu.model_load_s == gsm.model_load_s > 0  # one load, shared by the task's datasets
    assert mmlu.infer_s > 0 and gsm.infer_s > 0
    assert mmlu.prompt_tokens > 12 * 20 and mmlu.completion_tokens == 0  # scoring reads, writes nothing
    assert gsm.prompt_tokens > 8 * 10 and 0 < gsm.completion_tokens <= 8 * 12  # max_out_len 12
    assert gsm.tokens_per_s == round((gsm.prompt_tokens + gsm.completion_tokens) / gsm.infer_s, 1)
    assert "tokens/s" in (run / "summary" / "summary.html").read_text()
