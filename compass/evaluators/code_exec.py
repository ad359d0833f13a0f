"""Functional correctness (HumanEval): every completion runs against its task's tests in the sandbox.

A completion's program is the task's prompt, the completion, the test code, ``check(entry_point)``
and a line printing a token that is random per evaluation. It passes iff the sandbox says
``passed`` (exit 0, within the limits) *and* the token is in its stdout, so a completion that
exits early with status 0 (``exit(0)`` at top level, ``sys.exit()`` inside the function) fails.
Each row gets ``passed`` (one bool per completion), ``exec`` (the sandbox status and reason per
completion) and ``correct`` (one completion per task) or ``score`` = c/n (n completions); the
metrics are unbiased pass@k with bootstrap 95% intervals over tasks.
"""
from __future__ import annotations

import math
import re
import secrets

from compass.config import EvalCfg
from compass.errors import CompassError
from compass.evaluators.sandbox import SandboxLimits, SandboxResult, run_many
from compass.evaluators.stats import bootstrap_mean

DEFAULT_K = (1, 10)  # reported where every task has at least k completions
DEFAULT_TIMEOUT_S = 10.0  # per program, wall clock; generous because the sandbox starts a fresh interpreter
WORKERS = 2  # programs at once


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased P(at least one of k completions passes), given c passes among n (Chen et al., 2021).

    1 - C(n-c, k) / C(n, k), written as 1 - prod_{i=n-c+1}^{n} (1 - k/i): no huge binomials, no
    cancellation.
    """
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def build_program(gold: dict, completion: str, token: str) -> str:
    """The program that checks one completion; ``token`` is printed only if ``check`` returns."""
    prompt, entry = gold["prompt"], gold["entry_point"]
    if re.search(rf"^(?:async\s+)?def\s+{re.escape(entry)}\s*\(", completion, re.MULTILINE):
        # The model wrote the whole function (perhaps repeating the prompt): it replaces the
        # prompt's, which stays for its imports and helpers (a docstring is a valid body).
        code = prompt.rstrip() + "\n\n\n" + completion
    else:
        code = (prompt if prompt.endswith("\n") else prompt + "\n") + completion
    # os.write, not print: a completion that rebinds print or sys.stdout cannot fake the token.
    return f"{code}\n\n{gold['test']}\n\ncheck({entry})\n__import__('os').write(1, b'{token}\\n')\n"


def _gold(row: dict) -> dict:
    gold = row.get("gold")
    if not isinstance(gold, dict) or not {"prompt", "test", "entry_point"} <= set(gold):
        raise CompassError(f"sample {row.get('id')!r}: gold is not a HumanEval task (prompt, test, entry_point); "
                           f"code_exec needs a humaneval dataset")
    return gold


def _verdict(result: SandboxResult, token: str) -> tuple[bool, dict]:
    status, reason = result.status, result.reason
    if status == "passed" and token not in result.stdout:
        status, reason = "failed", "exited 0 before the tests finished"
    elif status == "failed":  # the exception is what a reader wants: "AssertionError", "NameError: ..."
        last = next((ln.strip() for ln in reversed(result.stderr.splitlines()) if ln.strip()), "")
        reason = f"{reason}: {last[:200]}" if last else reason
    return status == "passed", {"status": status, "reason": reason}


def humaneval(rows: list[dict], cfg: EvalCfg, ctx=None) -> dict:
    if not rows:
        return {}
    timeout = cfg.evaluator.timeout_s or DEFAULT_TIMEOUT_S
    if timeout <= 0:
        raise CompassError(f"eval_cfg.evaluator.timeout_s: must be > 0, got {timeout}")
    limits = SandboxLimits(timeout_s=timeout, cpu_s=max(1, math.ceil(timeout)))
    token = secrets.token_hex(16)
    completions = [r["extracted"] if isinstance(r["extracted"], list) else [r["extracted"]] for r in rows]
    programs = [[build_program(_gold(r), str(c), token) for c in comps] for r, comps in zip(rows, completions)]
    unique = list(dict.fromkeys(p for progs in programs for p in progs))  # identical completions run once
    results = dict(zip(unique, run_many(unique, limits, workers=WORKERS)))
    if all(r.status == "error" for r in results.values()):
        raise CompassError(f"code_exec: the sandbox could not run any program ({results[unique[0]].reason})")
    single = all(len(progs) == 1 for progs in programs)
    for row, progs in zip(rows, programs):
        verdicts = [_verdict(results[p], token) for p in progs]
        row["passed"] = [ok for ok, _ in verdicts]
        row["exec"] = [info for _, info in verdicts]
        row.pop("score" if single else "correct", None)  # stale outcome of an earlier evaluation
        if single:
            row["correct"] = row["passed"][0]
        else:
            row["score"] = sum(row["passed"]) / len(progs) if progs else 0.0
    return _pass_at_k_metrics(rows, cfg)


def _pass_at_k_metrics(rows: list[dict], cfg: EvalCfg) -> dict:
    fewest = min(len(r["passed"]) for r in rows)
    if cfg.evaluator.k is None:
        ks = [k for k in DEFAULT_K if k <= fewest]
    else:
        ks = list(dict.fromkeys(cfg.evaluator.k))
        for k in ks:
            if not 1 <= k <= fewest:
                raise CompassError(f"eval_cfg.evaluator.k: pass@{k} needs 1 <= k <= completions per task, and a task "
                                   f"has {fewest} (raise infer_cfg.inferencer.num_samples)")
    metrics = {}
    for k in ks:
        values = [pass_at_k(len(r["passed"]), sum(r["passed"]), k) for r in rows]
        metrics[f"pass@{k}"] = (sum(values) / len(values), bootstrap_mean(values))
    return metrics
