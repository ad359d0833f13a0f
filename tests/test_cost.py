"""API spending: priced tokens add up per dataset, a cost limit stops the run cleanly, and a resume
with a higher limit ends exactly where an unlimited run does."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from compass import records
from compass.config import ModelConfig
from compass.errors import CompassError
from compass.models.base import GenerateRequest
from compass.models.openai_api import OpenAIModel
from compass.records import PredictionMeta
from compass.store import RunDir
from compass.tasks.infer import sent_ids
from compass.tasks.usage import Meter, run_cost

from helpers import compass, predictions_of, result_of, scored_of, write_config
from judge_server import JudgeServer, Reply, by_model, fixed, unit
from scaleout import worker_pids

PRICES = {"prompt": 0.15, "completion": 0.60}  # dollars per million tokens


def answer(prompt: str, body: dict) -> str:
    return str(int(unit(prompt) * 10))  # deterministic per question: a resumed run gets the same answers


def _config(tmp_path, server, name, workers: int | None = None, template: str = "{q}", **model_keys):
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "q": f"Question {i}?", "a": str(i % 10)}) + "\n"
                            for i in range(24)))
    model = dict(abbr="api", type="OpenAI", path="m", api_base=server.url, chat=True, max_out_len=8, batch_size=2,
                 price_per_mtok={"prompt": 100_000.0, "completion": 150_000.0})  # the test server counts 1 + 1 tokens
    model.update(model_keys)
    ds = dict(abbr="qa", type="custom", path=str(data), reader_cfg=dict(input_columns=["q"], output_column="a",
                                                                         id_column="id"),
              infer_cfg=dict(prompt_template=dict(template=template), inferencer=dict(type="GenInferencer")),
              eval_cfg=dict(evaluator=dict(type="AccEvaluator")))
    split = {} if workers is None else {"infer": dict(partitioner=dict(type="NumWorkerPartitioner", num_worker=workers),
                                                     runner=dict(type="LocalRunner", max_num_workers=1))}
    return write_config(tmp_path / f"{name}.py", [model], [ds], **split)


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


@pytest.mark.parametrize("table", [{"prompt": 2.5}, {"completion": 10.0}, {}])
def test_a_price_table_names_both_sides(table):
    """A side left out cost nothing: completion tokens were free and --max-cost stopped late."""
    with pytest.raises(CompassError, match=r"models\[0\]\.price_per_mtok"):
        ModelConfig(abbr="api", type="OpenAI", path="m", price_per_mtok=table).validate("models[0]")
    ModelConfig(abbr="api", type="OpenAI", path="m", price_per_mtok={"prompt": 0, "completion": 0}).validate("m")


def test_cost_is_what_the_total_tokens_cost_however_many_batches(tmp_path):
    """The cost of many cheap batches (30 + 1 tokens at $0.15 / $0.60 per million: $5.1e-6 each):
    a running sum rounded per batch to 1e-6 recorded $0.01 for 2000 of them instead of $0.0102."""
    run_dir = RunDir.create(tmp_path / "out", "cheap")
    cfg = ModelConfig(abbr="api", type="OpenAI", path="m", price_per_mtok=PRICES).validate("m")
    path = run_dir.prediction_meta("api", "qa", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    records.write_record(path, PredictionMeta("hash", 2000, "ids"))

    class Counted:  # what Meter reads of a backend: its running token counts
        def __init__(self) -> None:
            self.usage: Counter = Counter()

    model = Counted()
    meter = Meter(run_dir, cfg, model, load_s=0.0)
    for _ in range(2000):
        model.usage.update(prompt_tokens=30, completion_tokens=1)
        meter.record("qa", None)
    timing = records.read_record(path, PredictionMeta).timing
    assert (timing.prompt_tokens, timing.completion_tokens) == (60_000, 2000)
    assert timing.cost_usd == pytest.approx((60_000 * 0.15 + 2000 * 0.60) / 1e6, rel=1e-9)


def test_an_answer_rejected_and_asked_again_is_still_paid_for(monkeypatch):
    """The server bills every 200 it sends: one the client rejects and asks again for (here: a
    completion without text) counts too, so cost and --max-cost see everything spent."""
    monkeypatch.setattr("compass.models.openai_transport.BACKOFF_S", 0.01)
    replies = [Reply(None), "42"]  # type: ignore[arg-type]
    with JudgeServer(lambda prompt, body: replies.pop(0)) as server:
        model = OpenAIModel(ModelConfig(abbr="api", type="OpenAI", path="m", api_base=server.url, chat=False,
                                        price_per_mtok=PRICES).validate("m"))
        (out,) = model.generate([GenerateRequest("What is 6*7?", 8)])
        assert len(server.requests) == 2
    assert out.text == "42" and sum(model.retries.values()) == 1
    assert (model.usage["prompt_tokens"], model.usage["completion_tokens"]) == (2, 2)  # 1 + 1 per answer


@pytest.mark.parametrize("edit", ["gold", "question"])
def test_a_resume_refuses_predictions_of_data_that_changed_since(tmp_path, edit):
    """A run stopped part-way, the dataset file edited (golds corrected, or questions reworded),
    then resumed: the kept lines would be scored against the old golds and prompts while the rest
    get the new ones, and the result would match neither version (exit 0). The resume refuses,
    naming the file, the sample and what changed."""
    with JudgeServer(answer) as server:
        config = _config(tmp_path, server, "edited")
        assert compass("run", str(config), "--max-cost", "2.0", cwd=tmp_path).returncode == 3
        data = tmp_path / "qa.jsonl"
        rows = [json.loads(line) for line in data.read_text().splitlines()]
        for row in rows:
            row["a" if edit == "gold" else "q"] += "!"
        data.write_text("".join(json.dumps(row) + "\n" for row in rows))
        proc = compass("run", str(config), "-r", "--max-cost", "100", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    what = "gold" if edit == "gold" else "prompt"
    assert "predictions/api/qa.jsonl" in proc.stderr and f"its {what} changed since it was predicted" in proc.stderr, proc.stderr
    assert "start a new run" in proc.stderr and "Traceback" not in proc.stderr


DOUBLE = {"prompt": 200_000.0, "completion": 300_000.0}  # the corrected table: $0.50 a request, was $0.25


def _stopped(tmp_path, server, name: str, limit: str = "2.0"):
    """A run stopped at its cost limit: the run directory, the ids sent so far, and how many were kept."""
    config = _config(tmp_path, server, name)
    assert compass("run", str(config), "--max-cost", limit, cwd=tmp_path).returncode == 3
    (run,) = list((tmp_path / "outputs" / name).iterdir())
    return run, sent_ids(run / "logs" / "infer" / "api.events.jsonl"), len(predictions_of(run, "api", "qa"))


def test_a_price_corrected_before_resume_reprices_what_was_spent_and_goes_on(tmp_path):
    """A price table fixed between the stop and -r made the resume refuse ("made with a different
    model or prompt config"): the price was part of infer_hash, yet it decides no prediction. The
    resume now keeps every prediction, sends only the missing samples, and the cost is the recorded
    tokens at the current price: 24 requests at $0.50, none lost, none counted twice."""
    with JudgeServer(answer) as server:
        run, before, done = _stopped(tmp_path, server, "priced")
        config = _config(tmp_path, server, "priced", price_per_mtok=DOUBLE)
        proc = compass("run", str(config), "-r", "--max-cost", "100", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        after = sent_ids(run / "logs" / "infer" / "api.events.jsonl")[len(before):]
        assert not set(after) & set(before) and len(set(after)) == 24 - done
    timing = result_of(run, "api", "qa").timing
    assert (timing.prompt_tokens, timing.completion_tokens) == (24, 24)
    assert timing.cost_usd == 24 * 0.50 == run_cost(RunDir(run))


def test_the_cost_limit_on_resume_counts_what_was_spent_at_the_corrected_price(tmp_path):
    """Stopped at $2 with the old price, then resumed with the price doubled and a limit between
    the old and the new value of what was spent: at the current price the limit is already reached,
    so nothing is sent (checked against the old recorded cost, one more batch went out)."""
    with JudgeServer(answer) as server:
        run, before, done = _stopped(tmp_path, server, "limit")
        config = _config(tmp_path, server, "limit", price_per_mtok=DOUBLE)
        proc = compass("run", str(config), "-r", "--max-cost", str(0.5 * done - 0.25), cwd=tmp_path)
        assert proc.returncode == 3, proc.stderr
        assert f"${0.5 * done:.4f} spent" in proc.stderr, proc.stderr
        assert sent_ids(run / "logs" / "infer" / "api.events.jsonl") == before
    assert run_cost(RunDir(run)) == 0.5 * done


@pytest.mark.parametrize("change", ["prompt", "model", "max_out_len"])
def test_a_resume_still_refuses_a_change_that_alters_predictions(tmp_path, change):
    """The price may change on -r; the prompt template, the model or its generation length may not,
    price corrected alongside or not."""
    with JudgeServer(answer) as server:
        run, before, _ = _stopped(tmp_path, server, "changed")
        keys = {"prompt": dict(template="Q: {q}"), "model": dict(path="other-model"),
                "max_out_len": dict(max_out_len=16, price_per_mtok=DOUBLE)}[change]
        config = _config(tmp_path, server, "changed", **keys)
        proc = compass("run", str(config), "-r", "--max-cost", "100", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "different model or prompt config" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert sent_ids(run / "logs" / "infer" / "api.events.jsonl") == before


@pytest.mark.parametrize(("before", "after"), [(2, 3), (None, 2), (2, None)])
def test_a_resume_refuses_a_dataset_split_into_other_shards(tmp_path, before, after):
    """Stopped part-way with the dataset in shards (NumWorkerPartitioner) or whole, then resumed
    with another split: the kept predictions were not found, every sample was sent (and paid for)
    again, and stray shard files could block the merge for good. The resume refuses; resumed with
    the split it started with, it finishes sending only what was missing."""
    with JudgeServer(answer) as server:
        config = _config(tmp_path, server, "split", before)
        assert compass("run", str(config), "--max-cost", "4.0", cwd=tmp_path).returncode == 3
        (run,) = list((tmp_path / "outputs" / "split").iterdir())
        events = run / "logs" / "infer"
        sent = sorted(i for f in events.glob("*.events.jsonl") for i in sent_ids(f))
        _config(tmp_path, server, "split", after)
        proc = compass("run", str(config), "-r", "--max-cost", "100", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "the partitioner changed" in proc.stderr and "predictions/api/qa.jsonl" in proc.stderr, proc.stderr
        assert sorted(i for f in events.glob("*.events.jsonl") for i in sent_ids(f)) == sent  # nothing sent
        _config(tmp_path, server, "split", before)
        assert compass("run", str(config), "-r", "--max-cost", "100", cwd=tmp_path).returncode == 0
        again = sorted(i for f in events.glob("*.events.jsonl") for i in sent_ids(f))
    assert len(again) == len(set(again)) == 24  # each sample sent once in all
    assert result_of(run, "api", "qa").timing.cost_usd == 24 * 0.25


def test_a_priced_judge_counts_in_the_runs_cost_and_its_limit(tmp_path):
    """A judge model's price was accepted and then ignored: the judge's requests were in no cost
    and --max-cost (documented as the whole run's spending) never saw them. Candidate and judge
    both cost $0.25 a request here: 20 answers ($5), then 20 judgments ($5) stopped at $7, and a
    resume with a higher limit asks only the judgments still missing."""
    data = tmp_path / "open.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "q": f"Question {i}?", "a": "ref"}) + "\n" for i in range(20)))
    price = {"prompt": 100_000.0, "completion": 150_000.0}  # the test server counts 1 + 1 tokens a request
    with JudgeServer(by_model({"cand": fixed("An answer."), "judge-model": fixed("Rating: [[8]]")})) as server:
        def model(abbr: str, path: str) -> dict:
            return dict(abbr=abbr, type="OpenAI", path=path, chat=True, max_out_len=16, batch_size=4,
                        api_base=server.url, price_per_mtok=price)
        ds = dict(abbr="open", type="custom", path=str(data),
                  reader_cfg=dict(input_columns=["q"], output_column="a", id_column="id"),
                  infer_cfg=dict(prompt_template=dict(template="{q}"), inferencer=dict(type="GenInferencer")),
                  eval_cfg=dict(evaluator=dict(type="JudgeSingleEvaluator", judge=model("judge", "judge-model"))))
        config = write_config(tmp_path / "judged.py", [model("cand", "cand")], [ds])
        proc = compass("run", str(config), "--max-cost", "7", cwd=tmp_path)
        assert proc.returncode == 3 and "stopped at the cost limit" in proc.stderr, proc.stderr
        assert server.count("cand") == 20 and server.count("judge-model") == 8  # $5 + 2 batches of $1
        (run,) = list((tmp_path / "outputs" / "judged").iterdir())
        assert run_cost(RunDir(run)) == 7.0
        proc = compass("run", str(config), "-r", "--max-cost", "100", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert server.count("cand") == 20 and server.count("judge-model") == 20
    usage = records.read_record(RunDir(run).judge_usage("cand", "open"), records.JudgeUsage)
    assert usage.judge == "judge" and usage.timing.cost_usd == 5.0 and run_cost(RunDir(run)) == 10.0


def test_a_corrected_judge_price_rebuys_no_judgment_and_restates_its_cost(tmp_path):
    """The judge's price was part of its judgments' cache key: correcting it before -r asked (and
    paid for) every judgment again. Now the resume re-scores with the 20 cached judgments, asks
    none, and states their cost at the corrected price."""
    data = tmp_path / "open.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "q": f"Question {i}?", "a": "ref"}) + "\n" for i in range(20)))
    with JudgeServer(by_model({"cand": fixed("An answer."), "judge-model": fixed("Rating: [[8]]")})) as server:
        def config(judge_price: dict) -> Path:
            def model(abbr: str, path: str, price: dict | None) -> dict:
                return dict(abbr=abbr, type="OpenAI", path=path, chat=True, max_out_len=16, batch_size=4,
                            api_base=server.url, price_per_mtok=price)
            ds = dict(abbr="open", type="custom", path=str(data),
                      reader_cfg=dict(input_columns=["q"], output_column="a", id_column="id"),
                      infer_cfg=dict(prompt_template=dict(template="{q}"), inferencer=dict(type="GenInferencer")),
                      eval_cfg=dict(evaluator=dict(type="JudgeSingleEvaluator",
                                                   judge=model("judge", "judge-model", judge_price))))
            return write_config(tmp_path / "judged.py", [model("cand", "cand", None)], [ds])

        proc = compass("run", str(config({"prompt": 100_000.0, "completion": 150_000.0})), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        (run,) = list((tmp_path / "outputs" / "judged").iterdir())
        assert server.count("judge-model") == 20 and run_cost(RunDir(run)) == 5.0
        proc = compass("run", str(config({"prompt": 200_000.0, "completion": 300_000.0})), "-r", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert server.count("cand") == 20 and server.count("judge-model") == 20  # nothing asked again
    usage = records.read_record(RunDir(run).judge_usage("cand", "open"), records.JudgeUsage)
    assert usage.timing.cost_usd == 10.0 and run_cost(RunDir(run)) == 10.0


class _AnswersThenHolds:
    """Answers the first ``n`` requests; holds later ones (answered only at the end, to a client
    long gone) until ``go_on`` is set, from when it answers every new request at once."""

    def __init__(self, n: int):
        self.n, self.answered, self.held = n, 0, 0
        self.go_on, self.end = threading.Event(), threading.Event()
        self._lock = threading.Lock()

    def __call__(self, prompt: str, body: dict) -> str:
        with self._lock:
            now = self.go_on.is_set() or self.answered < self.n
            self.answered += now
            self.held += not now
        if not now:
            self.end.wait(timeout=120)
        return answer(prompt, body)


def test_answers_paid_for_before_a_worker_is_killed_are_kept_and_counted(tmp_path):
    """A worker killed mid-batch (the runner's heartbeat, an OOM kill) had received some answers:
    they were neither kept (sent and paid for again by the retry) nor counted in the cost. Each
    answer is now kept and counted as it arrives: the cost is exactly what the answers the
    workers received cost, and no answered prompt is sent twice."""
    server_behaviour = _AnswersThenHolds(3)
    with JudgeServer(server_behaviour) as server:
        config = _config(tmp_path, server, "killed")
        text = config.read_text().replace("'batch_size': 2", "'batch_size': 4")
        config.write_text(text + "infer = {'runner': {'type': 'LocalRunner', 'retry': 1}}\n")
        out = tmp_path / "outputs"
        run = subprocess.Popen([sys.executable, "-m", "compass.cli", "run", str(config), "-w", str(out)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            def lines():
                return sum(len(p.read_text().splitlines()) for p in out.glob("*/*/predictions/api/qa.jsonl"))
            # The worker has kept 3 answers of its batch of 4 and waits for the held one: it sends
            # nothing more. Without keeping answers as they come, no line ever appears.
            deadline = time.monotonic() + 60
            while (lines() < 3 or server_behaviour.held < 1) and time.monotonic() < deadline:
                time.sleep(0.05)
            for pid in worker_pids(out, task="api"):
                os.kill(pid, signal.SIGKILL)
            server_behaviour.go_on.set()  # the runner's retry gets every answer at once
            _, stderr = run.communicate(timeout=300)
        finally:
            run.kill()
            server_behaviour.end.set()
        prompts = Counter(server.prompts())
    assert run.returncode == 0, stderr
    (run_dir,) = list((out / "killed").iterdir())
    assert result_of(run_dir, "api", "qa").timing.cost_usd == 0.25 * server_behaviour.answered
    assert server_behaviour.answered == 24 and sum(n > 1 for n in prompts.values()) == 1  # only the held one again
