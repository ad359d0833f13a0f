"""API spending: priced tokens add up per dataset, a cost limit stops the run cleanly, and a resume
with a higher limit ends exactly where an unlimited run does."""
from __future__ import annotations

import json

from compass.tasks.infer import sent_ids

from helpers import compass, predictions_of, result_of, scored_of, write_config
from judge_server import JudgeServer, unit


def answer(prompt: str, body: dict) -> str:
    return str(int(unit(prompt) * 10))  # deterministic per question: a resumed run gets the same answers


def _config(tmp_path, server, name):
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "q": f"Question {i}?", "a": str(i % 10)}) + "\n"
                            for i in range(24)))
    model = dict(abbr="api", type="OpenAI", path="m", api_base=server.url, chat=True, max_out_len=8, batch_size=2,
                 price_per_mtok={"prompt": 100_000.0, "completion": 150_000.0})  # the test server counts 1 + 1 tokens
    ds = dict(abbr="qa", type="custom", path=str(data), reader_cfg=dict(input_columns=["q"], output_column="a",
                                                                         id_column="id"),
              infer_cfg=dict(prompt_template=dict(template="{q}"), inferencer=dict(type="GenInferencer")),
              eval_cfg=dict(evaluator=dict(type="AccEvaluator")))
    return write_config(tmp_path / f"{name}.py", [model], [ds])


def test_a_cost_limit_stops_cleanly_and_a_higher_one_finishes_the_same_run(tmp_path):
    with JudgeServer(answer) as server:
        unlimited = _config(tmp_path, server, "unlimited")
        assert compass("run", str(unlimited), cwd=tmp_path).returncode == 0
        (clean,) = list((tmp_path / "outputs" / "unlimited").iterdir())
        full = result_of(clean, "api", "qa")
        assert full.timing.cost_usd == 24 * 0.25  # 24 requests x (1 x $0.10 + 1 x $0.15)

        limited = _config(tmp_path, server, "limited")
        proc = compass("run", str(limited), "--max-cost", "2.0", cwd=tmp_path)
        assert proc.returncode == 3, proc.stderr
        assert "stopped at the cost limit" in proc.stderr and "--max-cost" in proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout.startswith("PARTIAL")
        (run,) = list((tmp_path / "outputs" / "limited").iterdir())
        done = len(predictions_of(run, "api", "qa"))
        assert 8 <= done < 24  # $2 buys 8 requests, the batch in flight may finish
        events = run / "logs" / "infer" / "api.events.jsonl"
        before = sent_ids(events)

        proc = compass("run", str(limited), "-r", "--max-cost", "100", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        after = sent_ids(events)[len(before):]
        assert not set(after) & set(before) and len(set(after)) == 24 - done  # nothing lost, nothing redone
    resumed = result_of(run, "api", "qa")
    assert (resumed.metrics, resumed.ci95, resumed.n) == (full.metrics, full.ci95, full.n)
    assert resumed.timing.cost_usd == full.timing.cost_usd
    assert {r.id: r.correct for r in scored_of(run, "api", "qa")} == \
        {r.id: r.correct for r in scored_of(clean, "api", "qa")}
