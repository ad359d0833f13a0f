"""Judge-based evaluation against a real HTTP judge (tests/judge_server.py): rating and verdict
parsing, unparseable judgments counted, position bias removed by swapping, win/tie/loss CIs, and
judgments cached so that a killed evaluation resumes without asking the judge again."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from compass import records
from compass.config import EvalCfg, ModelConfig, Thinking, load_config, read_python_config
from compass.datasets.base import LoadedDataset
from compass.datasets.subjective import load as load_subjective
from compass.errors import CompassError
from compass.evaluators.judge import parse_rating, parse_verdict
from compass.records import Judgment, PredictionMeta
from compass.resume import ids_digest
from compass.schema import from_dict
from compass.stats.intervals import wilson
from compass.store import RunDir

from helpers import REPO, compass, make_predictions, predictions_of, result_of, score_rows, scored_of, write_config
from judge_server import (
    Gate,
    JudgeServer,
    PositionBiased,
    by_model,
    fixed,
    judgment_in_answer,
    prefers_marked,
    section,
    sometimes_garbage,
    unit,
)

RATINGS = [
    ("Rating: [[7]]", 7), ("The response is fine.\n\nRating: [[7.5]]", 7.5), ("[[ 9 ]]", 9), ("Rating: [[8/10]]", 8),
    ("I would give it 7/10.", 7), ("Overall: 6 out of 10", 6), ("**Score:** 8", 8), ("Score: **9**", 9),
    ("a score of 4", 4), ("Rating - 3", 3), ("Rating: 2\n", 2), ("5", 5), ("**10**", 10),
    ("I first thought [[3]], but on reflection: Rating: [[6]]", 6),  # the last rating counts
    ("Style 3/5, overall 8/10", 8),  # only "N/10" is a rating on a 1-10 scale
    ("Rating: [[7]], though 2/10 for brevity", 7),  # the asked-for format wins
    ("The answer is good.", None), ("Rating: [[N]]", None), ("", None),
    ("[[11]]", None), ("Rating: 0", None), ("Rating: [[-2]]", None), ("12/10", None),  # off the scale: unreadable
]
VERDICTS = [
    ("[[A]]", "A"), ("Final verdict: [[B]]", "B"), ("[[C]]", "tie"), ("[[tie]]", "tie"), ("Verdict: A", "A"),
    ("The winner is Response B.", "B"), ("Assistant A is better.", "A"), ("Verdict: a tie", "tie"),
    ("Response A looks better at first, but overall [[B]]", "B"), ("I cannot decide.", None), ("[[D]]", None),
    ("a good answer, but b is longer", None),  # lower-case letters are words, not verdicts
]


@pytest.mark.parametrize("text,expected", RATINGS)
def test_parse_rating(text, expected):
    assert parse_rating(text, 1, 10) == expected


def test_parse_rating_other_scales():
    assert parse_rating("Score: 85", 0, 100) == 85 and parse_rating("85/100", 0, 100) == 85
    assert parse_rating("Rating: [[0]]", 0, 5) == 0 and parse_rating("4/10", 0, 5) is None


@pytest.mark.parametrize("text,expected", VERDICTS)
def test_parse_verdict(text, expected):
    assert parse_verdict(text) == expected


# -- in-process evaluation over a run directory --------------------------------------------------
def judge(server: JudgeServer, **overrides) -> dict:
    return {**dict(abbr="judge", type="OpenAI", path="judge-model", api_base=server.url, chat=True, batch_size=8,
                   max_out_len=64), **overrides}


def write_predictions(run: RunDir, model: str, answers: dict[str, str], gold: dict[str, str] | None = None,
                      dataset: str = "open") -> list[dict]:
    rows = [{"id": sid, "prompt": f"Question {sid}: what do you think?", "prediction": text,
             "gold": (gold or {}).get(sid, ""), "group": "even" if int(sid) % 2 == 0 else "odd"}
            for sid, text in answers.items()]
    predictions = make_predictions(rows)
    records.write_lines(run.predictions(model, dataset), predictions)
    records.write_record(run.prediction_meta(model, dataset),
                         PredictionMeta("test", len(rows), ids_digest([p.id for p in predictions])))
    return [dict(r) for r in rows]


def evaluate(run: RunDir, model: str, rows: list[dict], evaluator: dict, dataset: str = "open") -> dict:
    """The scoring of ``rows`` as plain dicts (metrics, ci95, breakdown, per-sample details)."""
    cfg = from_dict(EvalCfg, dict(evaluator=evaluator), "eval_cfg")
    scoring = score_rows(rows, cfg, run, model, dataset)
    return {"primary": scoring.primary, "metrics": {k: m.value for k, m in scoring.metrics.items()},
            "ci95": {k: list(m.ci95) for k, m in scoring.metrics.items()}, "breakdown": scoring.breakdown,
            "scored": scoring.scored}


def test_single_grading_counts_unparseable_judgments_and_caches_them(tmp_path):
    judged = ["Rating: [[8]]", "**Score:** 6", "I'd say 9/10", "[[10]]", "no rating here", "[[11]]", "Rating: 1",
              "It is fine."]
    answers = {str(i): f"Answer {i}. JUDGE: {j}" for i, j in enumerate(judged)}
    run = RunDir(tmp_path)
    rows = write_predictions(run, "m", answers, gold={"0": "The reference answer."})
    with JudgeServer(judgment_in_answer) as server:
        evaluator = dict(type="JudgeSingleEvaluator", judge=judge(server))
        result = evaluate(run, "m", rows, evaluator)
        assert server.count() == 8
        ratings = [8, 6, 9, 10, None, None, 1, None]
        scores = [0.0 if r is None else (r - 1) / 9 for r in ratings]
        assert result["primary"] == "score"
        assert result["metrics"]["score"] == pytest.approx(sum(scores) / 8)
        assert result["metrics"]["unparseable"] == 3 and result["ci95"]["unparseable"] == [3, 3]
        assert result["metrics"]["unparseable_rate"] == 3 / 8
        assert result["ci95"]["unparseable_rate"] == pytest.approx(list(wilson(3, 8)))
        assert result["metrics"]["rating"] == pytest.approx((8 + 6 + 9 + 10 + 1) / 5)  # readable ratings only
        assert set(result["breakdown"]) == {"even", "odd"}
        # Only the sample with a reference shows one to the judge.
        with_ref = [p for p in server.prompts() if "[Reference Answer]" in p]
        assert len(with_ref) == 1 and "The reference answer." in with_ref[0] and "Answer 0." in with_ref[0]

        # A different value for unreadable judgments re-scores from the cache: no judge call.
        again = evaluate(run, "m", rows, {**evaluator, "unparseable_score": 0.5})
        assert server.count() == 8
        assert again["metrics"]["score"] == pytest.approx(result["metrics"]["score"] + 3 * 0.5 / 8)
        # Another judge (model or prompt) is another cache key: asked afresh.
        evaluate(run, "m", rows, {**evaluator, "judge": judge(server, max_out_len=32)})
        assert server.count() == 16
    cached = records.read_log(run.judgments("m", "open"), Judgment).records
    assert len(cached) == 16 and all(j.key and j.id and j.prompt and j.judgment for j in cached)


def test_position_biased_judge_is_cancelled_by_swapping(tmp_path):
    n = 40
    run = RunDir(tmp_path)
    # Under a fair judge "cand" is better on every sample (more '+').
    cand = write_predictions(run, "cand", {str(i): f"answer {i} ++" for i in range(n)})
    base = write_predictions(run, "base", {str(i): f"answer {i} +" for i in range(n)})

    def pairwise(server, judge_model="biased-judge", **kw):  # each judge its own model name: its own cache keys
        return dict(type="JudgePairwiseEvaluator", judge=judge(server, path=judge_model),
                    baseline=kw.pop("baseline", "base"), **kw)

    with JudgeServer(PositionBiased(p_first=1.0)) as server:  # always prefers the response shown first
        # Without swapping, each model "wins" every comparison in which it is shown first: both win.
        unswapped = evaluate(run, "cand", cand, pairwise(server, swap=False))
        assert unswapped["metrics"]["win_rate"] == 1.0 and unswapped["metrics"]["score"] == 1.0
        reverse = evaluate(run, "base", base, pairwise(server, swap=False, baseline="cand"))
        assert reverse["metrics"]["win_rate"] == 1.0
        assert "position_consistency" not in unswapped["metrics"]
        # With swapping the two orders contradict each other every time: all ties, no consistency.
        swapped = evaluate(run, "cand", cand, pairwise(server))
        assert swapped["metrics"]["tie_rate"] == 1.0 and swapped["metrics"]["score"] == 0.5
        assert swapped["metrics"]["position_consistency"] == 0.0
        assert swapped["metrics"]["first_position_rate"] == 1.0
        assert server.count() == n + n + n  # the swap=False A/B prompts were cached; only B/A ones were new

    with JudgeServer(prefers_marked) as server:  # a fair judge: consistent, and cand wins
        fair = evaluate(run, "cand", cand, pairwise(server, "fair-judge"))
        assert fair["metrics"]["win_rate"] == 1.0 and fair["metrics"]["position_consistency"] == 1.0
        assert fair["metrics"]["first_position_rate"] == 0.5

    biased = PositionBiased(p_first=0.8)  # shown-first wins 80% of the time, otherwise judged fairly
    with JudgeServer(biased) as server:
        result = evaluate(run, "cand", cand, pairwise(server, "80%-biased-judge"))
        prompts = server.prompts()
    # cand shown first wins either way; shown second it wins only where the judge was fair. A row
    # counts as a win only when both orders agree, so the win rate is the fair share of swapped prompts.
    fair_swapped = sum(not biased.biased(p) for p in prompts if section(p, "Response B").endswith("++"))
    assert 0 < fair_swapped < n / 2
    assert result["metrics"]["win_rate"] == fair_swapped / n
    assert result["metrics"]["position_consistency"] == fair_swapped / n
    assert result["metrics"]["loss_rate"] == 0.0 and result["metrics"]["tie_rate"] == 1 - fair_swapped / n


def test_win_tie_loss_rates_with_confidence_intervals_and_unreadable_verdicts(tmp_path):
    run = RunDir(tmp_path)
    marks = [3, 3, 3, 3, 3, 1, 1, 1, 0, 0]  # against the baseline's 1: 5 wins, 3 ties, 2 losses
    cand = write_predictions(run, "cand", {str(i): "x" + "+" * m for i, m in enumerate(marks)})
    write_predictions(run, "base", {str(i): "y+" for i in range(len(marks))})
    with JudgeServer(prefers_marked) as server:
        result = evaluate(run, "cand", cand, dict(type="judge_pairwise", judge=judge(server), baseline="base"))
    metrics, ci = result["metrics"], result["ci95"]
    for name, k in (("win_rate", 5), ("tie_rate", 3), ("loss_rate", 2)):
        assert metrics[name] == k / 10 and ci[name] == pytest.approx(list(wilson(k, 10)))
    assert metrics["score"] == pytest.approx(0.65)  # 5 + 3 * 0.5 out of 10
    lo, hi = ci["score"]
    assert lo < 0.65 < hi
    assert metrics["unparseable"] == 0 and metrics["position_consistency"] == 1.0

    # A judge that sometimes writes no verdict (another judge config: not served from the cache
    # above): such judgments are counted, and their pairs are ties.
    with JudgeServer(sometimes_garbage(prefers_marked, rate=0.3)) as server:
        noisy = evaluate(run, "cand", cand, dict(type="judge_pairwise", judge=judge(server, max_out_len=65),
                                                 baseline="base"))
        judged = server.prompts()
    garbage = sum(unit(p, "garbage") < 0.3 for p in judged)
    assert garbage > 0 and noisy["metrics"]["unparseable"] == garbage
    assert noisy["metrics"]["unparseable_rate"] == garbage / 20
    assert noisy["metrics"]["tie_rate"] > 0.3


def test_baseline_answers_must_exist_in_the_run(tmp_path):
    run = RunDir(tmp_path)
    cand = write_predictions(run, "cand", {"0": "a", "1": "b"})
    with JudgeServer(prefers_marked) as server:
        with pytest.raises(CompassError) as err:
            evaluate(run, "cand", cand, dict(type="judge_pairwise", judge=judge(server), baseline="base"))
        assert "baseline model 'base'" in str(err.value) and "inference has not finished" in str(err.value)
        write_predictions(run, "base", {"0": "a"})
        with pytest.raises(CompassError, match=r"baseline 'base' has no prediction for 1 sample\(s\) of 'cand', e.g. id '1'"):
            evaluate(run, "cand", cand, dict(type="judge_pairwise", judge=judge(server), baseline="base"))
        # The baseline against itself: all ties, without a judge call.
        base = [{"id": "0", "prediction": "a", "gold": ""}]
        own = evaluate(run, "base", base, dict(type="judge_pairwise", judge=judge(server), baseline="base"))
        assert own["metrics"]["tie_rate"] == 1.0 and server.count() == 0


@pytest.mark.parametrize("evaluator,message", [
    (dict(type="judge_single"), "evaluator.judge: judge_single needs a judge model config"),
    (dict(type="judge_pairwise", judge=dict(abbr="j", path="m", type="OpenAI")), "evaluator.baseline: judge_pairwise needs"),
    (dict(type="judge_single", judge=dict(abbr="j", path="m", type="OpenAI"), judge_template="Rate {answer}"),
     "the template never shows answer (write {{ name }}, jinja2 style)"),
    (dict(type="judge_single", judge=dict(abbr="j", path="m", type="OpenAI"), judge_template="{{ answr }}"),
     "unknown name(s) answr"),
    (dict(type="judge_pairwise", baseline="b", judge=dict(abbr="j", path="m", type="OpenAI"),
          judge_template="{{ answer_a }} {{ answer_b }} {% if %}"), "jinja2 syntax error on line 1"),
    (dict(type="judge_single", judge=dict(abbr="j", path="m", type="OpenAI"), rating_range=[10, 1]), "rating_range"),
    (dict(type="judge_single", judge=dict(abbr="j", path="m", type="OpenAI", api_key_env="sk-abc")), "api_key_env"),
])
def test_bad_judge_configs_are_one_line_errors(evaluator, message):
    with pytest.raises(CompassError) as err:
        from_dict(EvalCfg, dict(evaluator=evaluator), "datasets[0].eval_cfg")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("datasets[0].eval_cfg.evaluator")


def test_subjective_loader(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "Q1?", "reference": "R1", "category": "math"}\n'
                    '{"id": "b", "question": "Q2?", "category": "writing"}\n{"id": 3, "question": "Q3?"}\n')
    data = load_subjective(str(path))
    assert isinstance(data, LoadedDataset) and [s.id for s in data.test] == ["a", "b", "3"]
    assert data.test[0].gold == "R1" and data.test[0].group == "math" and data.test[2].group is None
    assert data.test[1].fields == {"question": "Q2?", "reference": "", "category": "writing"}
    assert [s.id for s in load_subjective(str(path), name="writing").test] == ["b"]
    path.write_text('{"id": "a", "question": "Q1?"}\n{"id": "a", "question": "Q2?"}\n')
    with pytest.raises(CompassError, match="duplicate id 'a'"):
        load_subjective(str(path))
    with pytest.raises(CompassError, match="missing field 'question'"):
        path.write_text('{"id": "a"}\n')
        load_subjective(str(path))


def test_shipped_subjective_and_api_configs_validate_and_are_documented():
    for file in sorted((REPO / "datasets_cfg" / "subjective").glob("*.py")):
        for key, value in read_python_config(file).items():
            if key.endswith("datasets"):
                for ds in value:
                    from compass.config import DatasetConfig

                    cfg = from_dict(DatasetConfig, ds, str(file))
                    assert cfg.type == "subjective" and cfg.eval_cfg.evaluator.type.startswith("judge_")
                    assert len(load_subjective(str(REPO / cfg.path)).test) == 12
    for file in sorted((REPO / "models_cfg").glob("api_*.py")):
        for model in read_python_config(file)["models"]:
            assert from_dict(ModelConfig, model, str(file)).type == "openai"
    doc = (REPO / "docs" / "config.md").read_text()
    for key in ("api_base", "api_key_env", "api_retries", "api_timeout_s", "evaluator.judge", "evaluator.judge_template",
                "evaluator.baseline", "evaluator.rating_range", "evaluator.unparseable_score", "evaluator.swap",
                "SubjectiveDataset", "JudgeSingleEvaluator", "JudgePairwiseEvaluator", 'type="OpenAI"'):
        assert f"`{key}`" in doc, key
    assert (REPO / "docs" / "subjective.md").is_file()


def test_an_empty_answer_loses_to_an_answer_without_asking_the_judge(tmp_path):
    run = RunDir(tmp_path)
    cand = write_predictions(run, "cand", {"0": "", "1": "", "2": "x+", "3": "x++"})
    write_predictions(run, "base", {"0": "y+", "1": "", "2": "y++", "3": "y+"})
    with JudgeServer(prefers_marked) as server:
        result = evaluate(run, "cand", cand, dict(type="judge_pairwise", judge=judge(server), baseline="base"))
        assert server.count() == 4  # rows 2 and 3, in both orders
    outcomes = [r.details["outcome"] for r in result["scored"]]
    assert outcomes == ["loss", "tie", "loss", "win"]
    assert [r.details.get("no_answer") for r in result["scored"]] == ["model", "both", None, None]
    assert result["scored"][0].details["judgments"] == [] and result["metrics"]["no_answer"] == 2


# -- through compass run: a reasoning baseline's thinking is stripped before judging ----------------
def reasoning_baseline(opened: bool):
    """A baseline that drafts a better-looking answer ("++++") in its thoughts; on q3 it never stops
    thinking. With ``opened`` the prompt opened the block (DeepSeek-R1's template): no opening tag."""
    tag = "" if opened else "<think>"

    def answer(prompt: str, body: dict) -> str:
        if "Question 3?" in prompt:
            return f"{tag}Drafting ++++ and still drafting, step after step"
        return f"{tag}First draft ++++, too long.</think> my answer +"
    return answer


def _api(server, abbr: str, path: str, **kw) -> dict:
    return dict(abbr=abbr, type="OpenAI", path=path, api_base=server.url, chat=True, max_out_len=32, **kw)


def _pairwise_dataset(questions, judge: dict) -> dict:
    """The questions file, answered by every model and judged against the model ``base``."""
    return dict(abbr="open", type="SubjectiveDataset", path=str(questions),
                infer_cfg=dict(prompt_template=dict(template="{question}"), inferencer=dict(type="GenInferencer")),
                eval_cfg=dict(evaluator=dict(type="JudgePairwiseEvaluator", baseline="base", judge=judge)))


@pytest.mark.parametrize("opened", [False, True], ids=["tagged", "opened-by-prompt"])
def test_a_reasoning_baselines_thinking_never_reaches_the_judge(tmp_path, opened):
    """The baseline's answer, as ours, is what follows its thinking: its thoughts were shown to the
    judge as its answer (and won), and a baseline cut off while thinking was judged on its thoughts."""
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Question {i}?"}) + "\n" for i in range(4)))
    served = by_model({"cand-model": fixed("my answer ++"), "base-model": reasoning_baseline(opened),
                       "judge-model": prefers_marked})
    with JudgeServer(served) as server:
        def api(abbr, path, **kw):
            return _api(server, abbr, path, **kw)

        dataset = _pairwise_dataset(questions, api("judge", "judge-model"))
        base = api("base", "base-model", think_tags=["<think>", "</think>"], think_open=opened)
        cfg = write_config(tmp_path / "judged.py", [api("cand", "cand-model"), base], [dataset])
        planned = load_config(cfg).datasets[0].eval_cfg.evaluator.baseline_thinking
        assert planned == Thinking(["<think>", "</think>"], starts_open=opened)
        proc = compass("run", str(cfg), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        judged = server.prompts("judge-model")
    assert len(judged) == 6  # q0-q2 in both orders; q3 needs no judge
    assert all(section(p, "Response A") in ("my answer ++", "my answer +") for p in judged)
    (run,) = list((tmp_path / "outputs" / "judged").iterdir())
    scored = {r.id: r for r in scored_of(run, "cand", "open")}
    assert all(scored[q].details["outcome"] == "win" for q in ("q0", "q1", "q2"))
    assert scored["q3"].details == {"judgments": [], "verdicts": [], "outcome": "win", "no_answer": "baseline"}
    result = result_of(run, "cand", "open")
    assert result.metrics["win_rate"] == 1.0 and result.metrics["no_answer"] == 1


def test_baseline_thinking_is_planned_from_the_baseline_model_not_written(tmp_path):
    judge_model = dict(abbr="j", path="m", type="OpenAI")
    dataset = dict(abbr="open", type="SubjectiveDataset", path="q.jsonl",
                   infer_cfg=dict(prompt_template=dict(template="{question}"), inferencer=dict(type="GenInferencer")),
                   eval_cfg=dict(evaluator=dict(type="judge_pairwise", baseline="base", judge=judge_model,
                                                baseline_thinking=dict(tags=["<t>", "</t>"]))))
    models = [dict(abbr="cand", path="c", type="OpenAI"), dict(abbr="base", path="b", type="OpenAI")]
    with pytest.raises(CompassError) as err:
        load_config(write_config(tmp_path / "cfg.py", models, [dataset]))
    assert "datasets[0].eval_cfg.evaluator.baseline_thinking: " in str(err.value) and "\n" not in str(err.value)


# -- through compass run: a killed evaluation resumes from the judgment cache ------------------------
def test_killed_evaluation_resumes_without_asking_the_judge_again(tmp_path):
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Question {i}?", "category": f"c{i % 2}"}) + "\n"
                                 for i in range(6)))
    gate = Gate(prefers_marked, open_for=6)  # the judge answers 3 batches of 2, then hangs
    served = by_model({"cand-model": fixed("my answer ++"), "base-model": fixed("my answer +"), "judge-model": gate})
    with JudgeServer(served) as server:
        def api(abbr, path, **kw):
            return _api(server, abbr, path, **kw)

        dataset = _pairwise_dataset(questions, api("judge", "judge-model", batch_size=2))
        cfg = write_config(tmp_path / "judged.py", [api("cand", "cand-model"), api("base", "base-model")], [dataset])
        assert load_config(cfg).datasets[0].eval_cfg.evaluator.judge.batch_size == 2
        infer = compass("run", str(cfg), "-m", "infer", cwd=tmp_path)
        assert infer.returncode == 0, infer.stderr
        (run,) = list((tmp_path / "outputs" / "judged").iterdir())
        assert server.count("cand-model") == 6 and server.count("base-model") == 6

        # Evaluate cand in its own worker, and kill it while the judge holds its 4th batch.
        cache = run / "judgments" / "cand" / "open.jsonl"
        with (tmp_path / "eval.log").open("w") as log:
            worker = subprocess.Popen([sys.executable, "-m", "compass.tasks.evaluate", str(run / "tasks" / "cand.json")],
                                      cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while not (len(records.read_log(cache, Judgment).records) == 6 and server.count("judge-model") == 8):
                assert worker.poll() is None and time.monotonic() < deadline, (tmp_path / "eval.log").read_text()
                time.sleep(0.05)
            worker.kill()
            worker.wait()
        with cache.open("ab") as f:
            f.write(b'{"key": "0123456789abcdef", "id": "q5", "judg')  # a line torn by the kill
        gate.release()
        before = {row.prompt for row in records.read_log(cache, Judgment).records}
        in_flight = server.prompts("judge-model")[6:8]
        assert len(before) == 6 and not set(in_flight) & before

        rerun = compass("run", str(cfg), "-r", "-m", "eval", cwd=tmp_path)
        assert rerun.returncode == 0, rerun.stderr
        asked = server.prompts("judge-model")[8:]
        assert len(asked) == 6 and not set(asked) & before  # 12 prompts (6 rows x 2 orders), 6 were cached
        assert set(in_flight) <= set(asked)  # answered after the kill, never stored: asked again
        assert server.count("cand-model") == 6 and server.count("base-model") == 6  # no inference either

    rows = records.read_log(cache, Judgment).records
    assert len({r.key for r in rows}) == 12  # the torn line aside, each prompt judged once
    result = result_of(run, "cand", "open")
    assert result.primary == "score" and result.metrics["win_rate"] == 1.0
    assert result.metrics["position_consistency"] == 1.0 and set(result.breakdown) == {"c0", "c1"}
    assert result_of(run, "base", "open").metrics["tie_rate"] == 1.0
    scored = scored_of(run, "cand", "open")
    assert all(r.score == 1.0 and r.details["outcome"] == "win" and len(r.details["judgments"]) == 2 for r in scored)
    assert "open" in (run / "summary" / "summary.txt").read_text()


def test_tiny_hf_model_judged_end_to_end(tmp_path, tiny_model):
    """The subjective family on its mini set: a real (tiny) transformers model answers, an API judge grades."""
    with JudgeServer(fixed("The answer is fine. Rating: [[6]]")) as server:
        judge = dict(abbr="judge", type="OpenAI", path="judge-model", api_base=server.url, chat=True, max_out_len=32)
        dataset = dict(abbr="open", type="SubjectiveDataset", path=str(REPO / "datasets_cfg" / "subjective" /
                                                                      "subjective_mini.jsonl"),
                       infer_cfg=dict(prompt_template=dict(template="Question: {question}\nAnswer:"),
                                      inferencer=dict(type="GenInferencer", max_out_len=8)),
                       eval_cfg=dict(evaluator=dict(type="JudgeSingleEvaluator", judge=judge)))
        cfg = write_config(tmp_path / "judged.py", [dict(abbr="tiny", path=str(tiny_model))], [dataset])
        proc = compass("run", str(cfg), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        (run,) = list((tmp_path / "outputs" / "judged").iterdir())
        result = result_of(run, "tiny", "open")
        n = len(predictions_of(run, "tiny", "open"))
        assert result.n == n == server.count("judge-model") > 0
        assert result.metrics["score"] == pytest.approx(5 / 9)  # rating 6 on the 1-10 scale
