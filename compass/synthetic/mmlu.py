"""MMLU-format items: four subjects of templated questions, and the facts corpus they ask about."""
from __future__ import annotations

import csv
import random
from functools import lru_cache
from pathlib import Path

from compass.synthetic.common import McItem, collect, multiple_choice

MMLU_SUBJECTS = ["elementary_arithmetic", "fictional_geography", "number_comparison", "unit_conversion"]
_SYLLABLES = ["ka", "lo", "mi", "ve", "ro", "ta", "sun", "dor", "bel", "qui", "zan", "fe", "no", "ri", "pa", "gul"]


@lru_cache(maxsize=8)
def _world(seed: int) -> list[tuple[str, str]]:
    """(country, capital) pairs of an invented world, fixed by the seed."""
    rng = random.Random(f"world-{seed}")
    names: set[str] = set()
    pairs: list[tuple[str, str]] = []
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


def _arithmetic(rng: random.Random) -> tuple[str, McItem]:
    a, b, op = rng.randint(2, 60), rng.randint(2, 60), rng.choice("+-")
    if op == "-" and b > a:
        a, b = b, a
    value = a + b if op == "+" else a - b
    choices, answer = multiple_choice(rng, str(value), [str(value + d) for d in rng.sample([-10, -2, -1, 1, 2, 10], 5)])
    return f"arith:{a}{op}{b}", McItem(f"What is {a} {op} {b}?", choices, answer)


def _geography(rng: random.Random, seed: int) -> tuple[str, McItem]:
    world = _world(seed)
    country, capital = rng.choice(world)
    others = [c for _, c in rng.sample(world, 6) if c != capital]
    choices, answer = multiple_choice(rng, capital, others)
    return f"geo:{country}", McItem(f"What is the capital of {country}?", choices, answer)


def _comparison(rng: random.Random) -> tuple[str, McItem]:
    numbers = rng.sample(range(1, 100), 4)
    biggest = max(numbers)
    choices, answer = multiple_choice(rng, str(biggest), [str(n) for n in numbers])
    key = "cmp:" + ",".join(map(str, sorted(numbers)))
    return key, McItem("Which of these numbers is the largest?", choices, answer)


def _units(rng: random.Random) -> tuple[str, McItem]:
    big, small, factor = rng.choice([("hours", "minutes", 60), ("minutes", "seconds", 60),
                                     ("days", "hours", 24), ("weeks", "days", 7), ("meters", "centimeters", 100)])
    n = rng.randint(2, 60)
    value = n * factor
    choices, answer = multiple_choice(rng, str(value), [str(value + factor), str(value - factor), str(n + factor), str(n * 10)])
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
    return collect(makers[subject], f"{subject}-{split}-{seed}", split, n)



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
