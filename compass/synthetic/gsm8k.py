"""GSM8K-format word problems: a question and a worked answer ending in ``#### N``."""
from __future__ import annotations

import json
import random
from pathlib import Path

from compass.synthetic.common import collect

_NAMES = ["Ana", "Ben", "Cleo", "Dev", "Emma", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kai", "Lena", "Milo", "Nora"]
_ITEMS = ["apples", "marbles", "stickers", "books", "pencils", "shells", "coins", "cards", "stamps", "cookies"]


def _word_problem(rng: random.Random) -> tuple[str, dict]:
    name, friend = rng.sample(_NAMES, 2)
    item = rng.choice(_ITEMS)
    kind = rng.choice(["add", "sub", "mul", "two_step"])
    a, b, c = rng.randint(2, 30), rng.randint(2, 20), rng.randint(2, 9)
    if kind == "add":
        q = f"{name} has {a} {item}. {friend} gives {name} {b} more. How many {item} does {name} have now?"
        steps, result = [f"{name} has {a} + {b} = <<{a}+{b}={a + b}>>{a + b} {item}."], a + b
    elif kind == "sub":
        a = a + b
        q = f"{name} has {a} {item} and gives {b} of them to {friend}. How many {item} does {name} have left?"
        steps, result = [f"{name} has {a} - {b} = <<{a}-{b}={a - b}>>{a - b} {item} left."], a - b
    elif kind == "mul":
        q = f"{name} buys {c} bags with {b} {item} in each bag. How many {item} does {name} buy?"
        steps, result = [f"{name} buys {c} * {b} = <<{c}*{b}={c * b}>>{c * b} {item}."], c * b
    else:
        q = (f"{name} has {a} {item}. {name} buys {c} packs of {b} {item} each. "
             f"How many {item} does {name} have in total?")
        steps = [f"The packs hold {c} * {b} = <<{c}*{b}={c * b}>>{c * b} {item}.",
                 f"In total {name} has {a} + {c * b} = <<{a}+{c * b}={a + c * b}>>{a + c * b} {item}."]
        result = a + c * b
    key = f"gsm:{kind}:{name}:{friend}:{item}:{a}:{b}:{c}"
    return key, {"question": q, "answer": "\n".join(steps) + f"\n#### {result}"}


def gsm8k_items(split: str, n: int, seed: int = 0) -> list[dict]:
    """``n`` distinct GSM8K-style rows (``question``, ``answer`` ending in ``#### N``) of ``split``."""
    return collect(_word_problem, f"gsm8k-{split}-{seed}", split, n)


def write_gsm8k(root: str | Path, n_train: int = 8, n_test: int = 20, seed: int = 0) -> Path:
    """Write ``root/train.jsonl`` and ``root/test.jsonl`` in GSM8K's layout."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        with (root / f"{split}.jsonl").open("w") as f:
            for row in gsm8k_items(split, n, seed):
                f.write(json.dumps(row) + "\n")
    return root
