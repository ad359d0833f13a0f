"""Synthetic mini benchmarks in the official MMLU and GSM8K on-disk layouts.

The project never ships benchmark contents; tests and the demo use items generated here from
templates. Every item has a stable key; a hash of the key assigns it to exactly one split, so the
``train`` items (which the reference model may learn from) never overlap the ``test`` items.
The knowledge the fact questions ask about is stated in :func:`facts_corpus`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LETTERS = "ABCD"
SPLITS = ("train", "dev", "val", "test")
MMLU_SUBJECTS = ["elementary_arithmetic", "fictional_geography", "number_comparison", "unit_conversion"]

_SYLLABLES = ["ka", "lo", "mi", "ve", "ro", "ta", "sun", "dor", "bel", "qui", "zan", "fe", "no", "ri", "pa", "gul"]
_NAMES = ["Ana", "Ben", "Cleo", "Dev", "Emma", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kai", "Lena", "Milo", "Nora"]
_ITEMS = ["apples", "marbles", "stickers", "books", "pencils", "shells", "coins", "cards", "stamps", "cookies"]


@dataclass(frozen=True)
class McItem:
    question: str
    choices: tuple[str, str, str, str]
    answer: str  # 'A'..'D'


def split_of(key: str) -> str:
    """The split an item belongs to, from a hash of its key: 70% train, 5% dev, 5% val, 20% test."""
    bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 20
    if bucket < 14:
        return "train"
    return {14: "dev", 15: "val"}.get(bucket, "test")


@lru_cache(maxsize=8)
def _world(seed: int) -> list[tuple[str, str]]:
    """(country, capital) pairs of an invented world, fixed by the seed."""
    rng = random.Random(f"world-{seed}")
    names: set[str] = set()
    pairs = []
    while len(pairs) < 400:
        country = "".join(rng.choice(_SYLLABLES) for _ in range(3)).capitalize()
        capital = ("".join(rng.choice(_SYLLABLES) for _ in range(2)) + rng.choice(["", "a", "on", "is"])).capitalize()
        if country in names or capital in names:
            continue
        names.update((country, capital))
        pairs.append((country, capital))
    return pairs


def facts_corpus(seed: int = 0) -> list[str]:
    """Sentences stating every fact the ``fictional_geography`` questions ask about."""
    return [f"The capital of {country} is {capital}." for country, capital in _world(seed)]


def _mc(rng: random.Random, correct: str, distractors: list[str]) -> tuple[tuple[str, str, str, str], str]:
    options = [correct] + [d for d in dict.fromkeys(distractors) if d != correct][:3]
    rng.shuffle(options)
    return tuple(options), LETTERS[options.index(correct)]  # type: ignore[return-value]


def _arithmetic(rng: random.Random) -> tuple[str, McItem]:
    a, b, op = rng.randint(2, 60), rng.randint(2, 60), rng.choice("+-")
    if op == "-" and b > a:
        a, b = b, a
    value = a + b if op == "+" else a - b
    choices, answer = _mc(rng, str(value), [str(value + d) for d in rng.sample([-10, -2, -1, 1, 2, 10], 5)])
    return f"arith:{a}{op}{b}", McItem(f"What is {a} {op} {b}?", choices, answer)


def _geography(rng: random.Random, seed: int) -> tuple[str, McItem]:
    world = _world(seed)
    country, capital = rng.choice(world)
    others = [c for _, c in rng.sample(world, 6) if c != capital]
    choices, answer = _mc(rng, capital, others)
    return f"geo:{country}", McItem(f"What is the capital of {country}?", choices, answer)


def _comparison(rng: random.Random) -> tuple[str, McItem]:
    numbers = rng.sample(range(1, 100), 4)
    biggest = max(numbers)
    choices, answer = _mc(rng, str(biggest), [str(n) for n in numbers])
    key = "cmp:" + ",".join(map(str, sorted(numbers)))
    return key, McItem("Which of these numbers is the largest?", choices, answer)


def _units(rng: random.Random) -> tuple[str, McItem]:
    big, small, factor = rng.choice([("hours", "minutes", 60), ("minutes", "seconds", 60),
                                     ("days", "hours", 24), ("weeks", "days", 7), ("meters", "centimeters", 100)])
    n = rng.randint(2, 60)
    value = n * factor
    choices, answer = _mc(rng, str(value), [str(value + factor), str(value - factor), str(n + factor), str(n * 10)])
    return f"units:{n}{big}", McItem(f"How many {small} are in {n} {big}?", choices, answer)


def mmlu_items(subject: str, split: str, n: int, seed: int = 0) -> list[McItem]:
    """``n`` distinct multiple-choice items of ``subject`` that belong to ``split``."""
    makers = {
        "elementary_arithmetic": _arithmetic,
        "fictional_geography": lambda rng: _geography(rng, seed),
        "number_comparison": _comparison,
        "unit_conversion": _units,
    }
    if subject not in makers:
        raise ValueError(f"unknown synthetic subject {subject!r}; known: {', '.join(MMLU_SUBJECTS)}")
    return _collect(makers[subject], f"{subject}-{split}-{seed}", split, n)


def _collect(make, rng_seed: str, split: str, n: int) -> list:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    rng = random.Random(rng_seed)
    seen: set[str] = set()
    items = []
    for _ in range(200 * n + 1000):
        key, item = make(rng)
        if key in seen or split_of(key) != split:
            continue
        seen.add(key)
        items.append(item)
        if len(items) == n:
            return items
    raise ValueError(f"only {len(items)} distinct {split} items exist for {rng_seed!r}, asked for {n}")


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
    return _collect(_word_problem, f"gsm8k-{split}-{seed}", split, n)


def write_mmlu(root: str | Path, subjects: list[str] | None = None, n_dev: int = 5, n_val: int = 5,
               n_test: int = 20, seed: int = 0) -> Path:
    """Write ``root/data/{dev,val,test}/<subject>_<split>.csv`` (no header: question,A,B,C,D,answer)."""
    root = Path(root)
    for subject in subjects or MMLU_SUBJECTS:
        for split, n in (("dev", n_dev), ("val", n_val), ("test", n_test)):
            out = root / "data" / split / f"{subject}_{split}.csv"
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", newline="") as f:
                writer = csv.writer(f)
                for item in mmlu_items(subject, split, n, seed):
                    writer.writerow([item.question, *item.choices, item.answer])
    return root


def write_gsm8k(root: str | Path, n_train: int = 8, n_test: int = 20, seed: int = 0) -> Path:
    """Write ``root/train.jsonl`` and ``root/test.jsonl`` in GSM8K's layout."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        with (root / f"{split}.jsonl").open("w") as f:
            for row in gsm8k_items(split, n, seed):
                f.write(json.dumps(row) + "\n")
    return root
