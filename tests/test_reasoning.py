"""Evaluating generation honestly: truncation counted and flagged, thinking kept out of the answer,
and repeated samples scored with intervals clustered by question."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from compass.config import DatasetConfig, EvalCfg, EvaluatorCfg, ModelConfig, Thinking
from compass.config.schema import ComponentCfg
from compass.errors import CompassError
from compass.evaluators.thinking import split_thinking
from compass.plan import infer_hash
from compass.schema import from_dict
from compass.stats.intervals import bootstrap_mean, pass_at_k, wilson

from helpers import REPO, compass, gsm8k_dataset, predictions_of, result_of, score_rows, scored_of, write_config
from judge_server import JudgeServer


def test_truncation_is_counted_from_the_predictions_and_flagged(tmp_path):
    """The reference model with a small max_out_len: some answers end, some are cut."""
    model = dict(abbr="ref", path=str(REPO / "examples" / "assets" / "reference-demo"), batch_size=8, max_out_len=64)
    ds = gsm8k_dataset(REPO / "examples" / "data" / "gsm8k-mini", max_out_len=40)  # answers take 25 to 64 tokens
    cfg = write_config(tmp_path / "cfg.py", [model], [ds])
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    predictions = predictions_of(run, "ref", "gsm8k-mini")
    reasons = [p.finish_reason for p in predictions]
    cut = reasons.count("length")
    assert 0 < cut < len(predictions) and set(reasons) <= {"stop", "eos", "length"}
    assert all(p.completion_tokens is not None and p.completion_tokens <= 40 for p in predictions)
    assert all(p.completion_tokens == 40 for p in predictions if p.finish_reason == "length")
    result = result_of(run, "ref", "gsm8k-mini")
    assert result.metrics["truncated"] == cut / len(predictions)
    assert result.ci95["truncated"] == pytest.approx(list(wilson(cut, len(predictions))))
    summary = (run / "summary" / "summary.txt").read_text()
    assert "(!)" in summary and f"{100 * cut / len(predictions):.1f}% of completions hit max_out_len" in summary
    assert "(!)" in (run / "summary" / "summary.md").read_text() and "hit max_out_len" in \
        (run / "summary" / "summary.html").read_text()


# -- a thinking model: answers after </think>, a distractor inside the thinking ---------------------
QUESTIONS = [(f"q{i}", f"What is {i} + {i}?", str(2 * i), i % 3 == 0, i == 7) for i in range(1, 10)]


def thinker(prompt: str, body: dict) -> str:
    for _, question, answer, distracted, unclosed in QUESTIONS:
        if question in prompt:
            if unclosed:
                return "<think>Let me think about this very carefully, step after step after step"
            doubt = " Perhaps the answer is 99. No." if distracted else ""
            return f"<think>Adding the two numbers.{doubt}</think> The answer is {answer}."
    return "no idea"


def _questions_dataset(tmp_path) -> dict:
    """QUESTIONS as a GSM8K-scored custom dataset in ``tmp_path``."""
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"id": i, "q": q, "a": a}) + "\n" for i, q, a, _, _ in QUESTIONS))
    return dict(abbr="qa", type="custom", path=str(data),
                reader_cfg=dict(input_columns=["q"], output_column="a", id_column="id"),
                infer_cfg=dict(prompt_template=dict(template="{q}"), inferencer=dict(type="GenInferencer", max_out_len=64)),
                eval_cfg=dict(evaluator=dict(type="Gsm8kEvaluator"), pred_postprocessor=dict(type="gsm8k")))


def test_thinking_is_stripped_before_extraction_and_an_unclosed_block_is_truncated(tmp_path):
    ds = _questions_dataset(tmp_path)
    with JudgeServer(thinker) as server:
        api = dict(type="OpenAI", path="thinker", api_base=server.url, chat=True, max_out_len=64)
        cfg = write_config(tmp_path / "cfg.py", [dict(api, abbr="raw"), dict(api, abbr="stripped",
                                                                                 think_tags=["<think>", "</think>"])],
                           [ds])
        proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    raw = {r.id: r for r in scored_of(run, "raw", "qa")}
    stripped = {r.id: r for r in scored_of(run, "stripped", "qa")}
    differs = {i for i in raw if raw[i].correct != stripped[i].correct}
    assert differs == {i for i, _, _, distracted, unclosed in QUESTIONS if distracted and not unclosed}
    assert all(stripped[i].correct for i, _, _, _, unclosed in QUESTIONS if not unclosed)
    assert stripped["q7"].extracted == "" and stripped["q7"].details["unclosed_thinking"] == [True]
    assert result_of(run, "stripped", "qa").metrics["truncated"] == 1 / len(QUESTIONS)
    assert result_of(run, "raw", "qa").metrics["truncated"] == 0.0
    assert predictions_of(run, "stripped", "qa")[0].prediction.startswith("<think>")  # the raw text is kept
    # The report's drill-down shows the thinking apart from the answer, for the model with think_tags only.
    from compass.store import RunDir
    from compass.summarize.drilldown import samples
    from compass.summarize.tables import Column

    data = samples([Column("raw", RunDir(run), "raw"), Column("stripped", RunDir(run), "stripped")], ["qa"])
    raw_rows, stripped_rows = (s["rows"] for s in data["sources"])
    assert not any("thinking" in r for r in raw_rows) and all("thinking" in r for r in stripped_rows)
    q3 = next(r for r in stripped_rows if r["id"] == "q3")
    assert "Perhaps the answer is 99" in q3["thinking"] and q3["prediction"] == "The answer is 6."
    assert next(r for r in stripped_rows if r["id"] == "q7")["prediction"].startswith("(no answer")


@pytest.mark.parametrize("text,thinking,answer,closed", [
    ("<think>a</think> b", "a", "b", True), ("plain answer", "", "plain answer", True),
    ("<think>never ends", "never ends", "", False), ("<think>a</think><think>b</think> c", "a</think><think>b", "c", True),
    # Thinking again after an answer, never closed: no answer (not a parse of the new thoughts).
    ("<think>guess</think> 5 <think>wait, 2+2 = 4", "wait, 2+2 = 4", "", False),
])
def test_split_thinking(text, thinking, answer, closed):
    s = split_thinking(text, Thinking(["<think>", "</think>"]))
    assert (s.thinking, s.answer, s.closed) == (thinking, answer, closed)


@pytest.mark.parametrize("text,thinking,answer,closed", [
    # The prompt opened the block (DeepSeek-R1's template ends with "<think>\n"): the completion
    # starts inside it, and one without the closing tag was cut off while thinking.
    ("a</think> b", "a", "b", True), ("cut off, perhaps 4", "cut off, perhaps 4", "", False),
    ("<think>a</think> b", "a", "b", True),  # a model that writes the opening tag again
    ("a</think> 5 <think>wait, 2+2 = 4", "wait, 2+2 = 4", "", False), ("", "", "", False),
])
def test_split_thinking_that_starts_open(text, thinking, answer, closed):
    s = split_thinking(text, Thinking(["<think>", "</think>"], starts_open=True))
    assert (s.thinking, s.answer, s.closed) == (thinking, answer, closed)


# -- a template that opens the thinking block: completions hold no opening tag -------------------
def open_thinker(prompt: str, body: dict) -> str:
    """A DeepSeek-R1-style model behind an API: the chat template put "<think>" in the prompt, so a
    completion is "thoughts</think>answer", or, cut off while thinking, thoughts with no tag at all."""
    for _, question, answer, distracted, unclosed in QUESTIONS:
        if question in prompt:
            if unclosed:  # a right-looking guess among the unfinished thoughts
                return f"Maybe it is {answer}, but let me check that very carefully, step after step"
            doubt = " Perhaps the answer is 99. No." if distracted else ""
            return f"Adding the two numbers.{doubt}</think> The answer is {answer}."
    return "no idea"


def test_thinking_opened_by_the_prompt_has_no_answer_until_it_closes(tmp_path):
    """think_open: a completion cut off while thinking (no tag at all) has no answer and counts as
    truncated; it was scored as the answer (right here, from a guess among the thoughts)."""
    ds = _questions_dataset(tmp_path)
    with JudgeServer(open_thinker) as server:
        model = dict(abbr="r1", type="OpenAI", path="r1", api_base=server.url, chat=True, max_out_len=64,
                     think_tags=["<think>", "</think>"], think_open=True)
        cfg = write_config(tmp_path / "cfg.py", [model], [ds])
        proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    scored = {r.id: r for r in scored_of(run, "r1", "qa")}
    assert scored["q7"].extracted == "" and not scored["q7"].correct
    assert scored["q7"].details["unclosed_thinking"] == [True]
    assert all(r.correct for i, r in scored.items() if i != "q7")  # the distractors stayed in the thoughts
    result = result_of(run, "r1", "qa")
    assert result.metrics["accuracy"] == 8 / 9 and result.metrics["truncated"] == 1 / 9
    from compass.store import RunDir
    from compass.summarize.drilldown import samples
    from compass.summarize.tables import Column

    rows = {r["id"]: r for r in samples([Column("r1", RunDir(run), "r1")], ["qa"])["sources"][0]["rows"]}
    assert rows["q7"]["prediction"].startswith("(no answer") and "Maybe it is 14" in rows["q7"]["thinking"]
    assert rows["q3"]["prediction"] == "The answer is 6." and "Perhaps the answer is 99" in rows["q3"]["thinking"]


def test_think_open_set_after_inference_rescores_the_run_without_asking_again(tmp_path):
    """think_open says how completions are read, not what they are: a run made without it (its
    cut-off thought scored as a right answer) is re-scored with it by -r, no request sent."""
    ds = _questions_dataset(tmp_path)
    with JudgeServer(open_thinker) as server:
        model = dict(abbr="r1", type="OpenAI", path="r1", api_base=server.url, chat=True, max_out_len=64,
                     think_tags=["<think>", "</think>"])
        proc = compass("run", str(write_config(tmp_path / "cfg.py", [model], [ds])), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
        before = result_of(run, "r1", "qa")
        assert before.metrics["accuracy"] == 1.0 and before.metrics["truncated"] == 0.0  # the cut-off guess counted
        cfg = write_config(tmp_path / "cfg.py", [dict(model, think_open=True)], [ds])
        proc = compass("run", str(cfg), "-r", "-m", "eval", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert server.count() == len(QUESTIONS)  # no inference again
    after = result_of(run, "r1", "qa")
    assert after.metrics["accuracy"] == 8 / 9 and after.metrics["truncated"] == 1 / 9
    assert after.infer_hash == before.infer_hash


def test_think_open_leaves_the_infer_hash_of_runs_made_before_it_existed():
    dataset = from_dict(DatasetConfig, dict(abbr="qa", type="custom", path="qa.jsonl", infer_cfg=dict(
        prompt_template=dict(template="{q}"), inferencer=dict(type="GenInferencer")),
        eval_cfg=dict(evaluator=dict(type="Gsm8kEvaluator"))), "datasets[0]")
    model = dict(abbr="r1", path="r1", type="OpenAI", chat=True, think_tags=["<think>", "</think>"])
    for think_open in (False, True):  # the hash at d8f2985, before the key existed
        config = from_dict(ModelConfig, dict(model, think_open=think_open), "models[0]")
        assert infer_hash(config, dataset) == "8f4e86892d18cd57"


def test_think_open_without_think_tags_is_a_one_line_error():
    with pytest.raises(CompassError) as err:
        from_dict(ModelConfig, dict(abbr="r1", path="m", type="OpenAI", think_open=True), "models[0]")
    assert str(err.value).startswith("models[0].think_open: ") and "think_tags" in str(err.value)
    assert "\n" not in str(err.value)


# -- repeats: avg@n, pass@k, maj@n, clustered intervals -----------------------------------------------
def test_repeats_give_hand_computed_pass_at_k_and_majority():
    rows = [{"id": "a", "gold": "4", "prediction": ["4", "5", "4", "4"]},  # 3 of 4; majority 4 (right)
            {"id": "b", "gold": "7", "prediction": ["1", "7", "1", "2"]},  # 1 of 4; majority 1 (wrong)
            {"id": "c", "gold": "3", "prediction": ["3", "3", "3", "3"]}]  # 4 of 4
    cfg = EvalCfg(EvaluatorCfg("numeric_match"), ComponentCfg("none"))
    out = score_rows(rows, cfg)
    assert [r.score for r in out.scored] == [0.75, 0.25, 1.0] and out.primary == "score"
    assert out.scored[0].details["correct"] == [True, False, True, True]
    # pass@k = 1 - C(n-c, k)/C(n, k): n=4; c=3 -> 1, 1; c=1 -> 1/4, 1; c=4 -> 1, 1
    assert out.metrics["pass@1"].value == pytest.approx((0.75 + 0.25 + 1.0) / 3)
    assert out.metrics["pass@4"].value == pytest.approx(1.0)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)
    assert out.metrics["maj@4"].value == pytest.approx(2 / 3)


def test_majority_counts_right_answers_as_one_however_written():
    """maj@n voted by raw text: "4", "4.0", "4.00" (all judged equal to the gold) split three ways
    and lost to two "5"s. Right answers are one answer; wrong ones still split by text."""
    cfg = EvalCfg(EvaluatorCfg("numeric_match"), ComponentCfg("none"))
    rows = [{"id": "a", "gold": "4", "prediction": ["4", "4.0", "4.00", "5", "5"]},  # right 3, "5" 2: right
            {"id": "b", "gold": "4", "prediction": ["4", "5", "5", "6", "4.0"]}]  # right 2, "5" 2: tie, first is right
    assert score_rows(rows, cfg).metrics["maj@5"].value == 1.0
    rows = [{"id": "c", "gold": "4", "prediction": ["5", "4", "5", "6", "4.0"]}]  # tie, the first is "5": wrong
    assert score_rows(rows, cfg).metrics["maj@5"].value == 0.0


def test_truncation_with_repeats_is_a_share_over_questions():
    """10 questions x 20 repeats, one question cut on every repeat vs three: the interval over 200
    completions (as if independent) made the gate say truncation changed. Over questions the
    intervals are Wilson's of 1/10 and 3/10, which overlap."""
    cfg = EvalCfg(EvaluatorCfg("numeric_match"), ComponentCfg("none"))
    for cut in (1, 3):
        rows = [{"id": f"q{i}", "gold": "7", "prediction": ["7"] * 20,
                 "finish_reason": ["length" if i < cut else "stop"] * 20} for i in range(10)]
        truncated = score_rows(rows, cfg).metrics["truncated"]
        assert (truncated.value, truncated.ci95) == (cut / 10, wilson(cut, 10))


def test_repeats_that_all_agree_do_not_make_a_small_dataset_certain():
    """10 questions, each right 4 times of 4: the bootstrap over questions gave a zero-wide 95%
    interval for avg@4, pass@k and maj@4 (the report's detectable difference 0). Repeats that agree
    are a proportion over the 10 questions; 9 right and 1 wrong likewise."""
    cfg = EvalCfg(EvaluatorCfg("numeric_match"), ComponentCfg("none"))
    for right in (10, 9):
        rows = [{"id": f"q{i}", "gold": "7", "prediction": ["7" if i < right else "8"] * 4} for i in range(10)]
        one = score_rows([{**r, "prediction": r["prediction"][0]} for r in rows], cfg)
        out = score_rows(rows, cfg)
        assert one.metrics["accuracy"].ci95 == wilson(right, 10)
        for name in ("score", "pass@1", "pass@4", "maj@4"):
            assert out.metrics[name].ci95 == one.metrics["accuracy"].ci95, name
    # Repeats that disagree: never narrower than all completions taken as independent.
    rows = [{"id": f"q{i}", "gold": "7", "prediction": ["7", "7", "7", "8"]} for i in range(10)]
    lo, hi = score_rows(rows, cfg).metrics["score"].ci95
    assert lo <= wilson(30, 40)[0] and hi >= wilson(30, 40)[1]


def test_clustered_interval_is_wider_when_repeats_agree_and_equal_when_independent():
    rng = random.Random(0)

    def widths(agree: bool, questions: int = 60, repeats: int = 4) -> tuple[float, float]:
        """Agreeing: each question's repeats copy one draw. Independent: every outcome its own draw from
        one success rate (no question effect, or questions of different difficulty would correlate them)."""
        per_question = []
        p = rng.uniform(0.2, 0.8)
        for _ in range(questions):
            first = rng.random() < p
            outcomes = [first if agree else rng.random() < p for _ in range(repeats)]
            per_question.append(outcomes)
        flat = [o for q in per_question for o in q]
        lo, hi = bootstrap_mean([sum(q) / repeats for q in per_question], seed=rng.randrange(10**6))
        nlo, nhi = wilson(sum(flat), len(flat))
        return hi - lo, nhi - nlo

    agreeing = [widths(True) for _ in range(30)]
    independent = [widths(False) for _ in range(30)]
    assert np.mean([c / n for c, n in agreeing]) > 1.6  # about sqrt(4) = 2 when repeats are copies
    assert np.mean([c / n for c, n in independent]) == pytest.approx(1.0, abs=0.1)


def test_the_gate_reports_a_change_in_truncation(tmp_path):
    model = dict(abbr="ref", path=str(REPO / "examples" / "assets" / "reference-demo"), batch_size=8, max_out_len=96)
    runs = {}
    for name, cap in (("roomy", 96), ("tight", 30)):
        ds = gsm8k_dataset(REPO / "examples" / "data" / "gsm8k-mini", max_out_len=cap)
        proc = compass("run", str(write_config(tmp_path / f"{name}.py", [model], [ds])), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        (runs[name],) = list((tmp_path / "outputs" / name).iterdir())
    assert result_of(runs["roomy"], "ref", "gsm8k-mini").metrics["truncated"] == 0.0
    compass("gate", "--baseline", str(runs["roomy"]), "--candidate", str(runs["tight"]), "--json",
            str(tmp_path / "gate.json"), cwd=tmp_path)
    report = json.loads((tmp_path / "gate.json").read_text())
    (dataset,) = report["datasets"]
    assert dataset["truncated"][0] == 0.0 and dataset["truncated"][1] > 0.5
    assert "truncation changed" in dataset["truncation_note"] and "more answers were cut" in dataset["truncation_note"]
    compass("gate", "--baseline", str(runs["roomy"]), "--candidate", str(runs["roomy"]), "--json",
            str(tmp_path / "same.json"), cwd=tmp_path)
    assert json.loads((tmp_path / "same.json").read_text())["datasets"][0]["truncation_note"] is None
