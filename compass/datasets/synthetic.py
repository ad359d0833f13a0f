"""Synthetic mini benchmarks in the official on-disk layouts (MMLU, GSM8K, HumanEval, C-Eval, MATH).

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


# -- HumanEval-format programming tasks ---------------------------------------------------------
# Each maker draws parameters and returns (key, entry point, signature, docstring, solution body,
# reference function, test inputs). Expected outputs in the docstring example and in check() come
# from the reference function, so the canonical body and the tests can only disagree by a bug
# that tests/test_humaneval.py catches (every canonical solution must pass in the sandbox).
_WORDS = ["river", "stone", "amber", "level", "noon", "cloud", "tiger", "racecar", "maple", "kayak", "orbit"]


def _code_add(rng: random.Random):
    k = rng.randint(2, 99)
    return (f"add:{k}", "add_constant", "x: int", "int", f"Return x plus {k}.", f"return x + {k}",
            lambda x: x + k, [(0,), (-k,), (10,), (123,)])


def _code_scale(rng: random.Random):
    k = rng.randint(2, 9)
    return (f"scale:{k}", "scale_all", "numbers: List[int]", "List[int]",
            f"Return a new list with every number multiplied by {k}.", f"return [n * {k} for n in numbers]",
            lambda xs: [n * k for n in xs], [([],), ([1, 2, 3],), ([-4, 0, 7],)])


def _code_count_char(rng: random.Random):
    ch = rng.choice("aeiorstnl")
    return (f"count:{ch}", "count_letter", "text: str", "int",
            f"Count how many times the letter '{ch}' occurs in text, ignoring case.",
            f"return text.lower().count('{ch}')", lambda s: s.lower().count(ch),
            [("",), (rng.choice(_WORDS),), (f"{ch.upper()}x{ch}{ch}",), ("The quick brown fox",)])


def _code_clamp(rng: random.Random):
    lo = rng.randint(-20, 5)
    hi = lo + rng.randint(3, 30)
    return (f"clamp:{lo}:{hi}", "clamp", "x: int", "int", f"Return x limited to the range [{lo}, {hi}].",
            f"return max({lo}, min({hi}, x))", lambda x: max(lo, min(hi, x)),
            [(lo - 5,), (lo,), (lo + 1,), (hi,), (hi + 100,)])


def _code_palindrome(rng: random.Random):
    fold = rng.random() < 0.5
    doc = "Return True if text reads the same backwards" + (", ignoring case." if fold else " (case matters).")
    body = "s = text.lower()\n    return s == s[::-1]" if fold else "return text == text[::-1]"
    ref = (lambda s: s.lower() == s.lower()[::-1]) if fold else (lambda s: s == s[::-1])
    return (f"palindrome:{fold}", "is_palindrome", "text: str", "bool", doc, body, ref,
            [("",), ("Noon",), ("kayak",), ("abca",), ("Aba",)])


def _code_vowels(rng: random.Random):
    with_y = rng.random() < 0.5
    vowels = "aeiouy" if with_y else "aeiou"
    return (f"vowels:{with_y}", "count_vowels", "word: str", "int",
            f"Count the vowels ({', '.join(vowels)}) in word, ignoring case.",
            f"return sum(1 for c in word.lower() if c in '{vowels}')",
            lambda w: sum(1 for c in w.lower() if c in vowels), [("",), ("sky",), ("AEIOU",), ("rhythm and blues",)])


def _code_multiples(rng: random.Random):
    a, b = rng.sample(range(2, 8), 2)
    return (f"multiples:{min(a, b)}:{max(a, b)}", "sum_of_multiples", "limit: int", "int",
            f"Return the sum of the positive integers below limit that are divisible by {a} or by {b}.",
            f"return sum(i for i in range(1, limit) if i % {a} == 0 or i % {b} == 0)",
            lambda n: sum(i for i in range(1, n) if i % a == 0 or i % b == 0), [(0,), (1,), (10,), (57,)])


def _code_every_kth(rng: random.Random):
    k = rng.randint(2, 4)
    return (f"every:{k}", "every_kth", "items: List[int]", "List[int]",
            f"Return every {k}th element of items, starting with the first one.", f"return items[::{k}]",
            lambda xs: xs[::k], [([],), ([5],), (list(range(10)),), ([3, 1, 4, 1, 5, 9, 2, 6],)])


def _code_digit_sum(rng: random.Random):
    base = rng.randint(2, 10)
    body = f"total = 0\n    while n > 0:\n        total += n % {base}\n        n //= {base}\n    return total"

    def ref(n: int) -> int:
        total = 0
        while n > 0:
            total, n = total + n % base, n // base
        return total
    return (f"digits:{base}", "digit_sum", "n: int", "int",
            f"Return the sum of the digits of the non-negative integer n written in base {base}.", body, ref,
            [(0,), (base - 1,), (base,), (1000,), (987654,)])


def _code_rotate(rng: random.Random):
    k = rng.randint(1, 5)
    return (f"rotate:{k}", "rotate_left", "items: List[int]", "List[int]",
            f"Rotate items to the left by {k} positions (wrapping around); an empty list stays empty.",
            f"if not items:\n        return []\n    k = {k} % len(items)\n    return items[k:] + items[:k]",
            lambda xs: xs[k % len(xs):] + xs[:k % len(xs)] if xs else [],
            [([],), ([1],), ([1, 2, 3],), ([1, 2, 3, 4, 5, 6, 7],)])


def _code_running(rng: random.Random):
    use_max = rng.random() < 0.5
    fn = "max" if use_max else "min"
    body = (f"out = []\n    for n in numbers:\n        out.append(n if not out else {fn}(out[-1], n))\n"
            f"    return out")

    def ref(xs):
        out = []
        for n in xs:
            out.append(n if not out else (max if use_max else min)(out[-1], n))
        return out
    return (f"running:{fn}", f"running_{fn}", "numbers: List[int]", "List[int]",
            f"Return the running {fn}imum: element i is the {fn}imum of numbers[0..i].", body, ref,
            [([],), ([3],), ([2, 5, 1, 7, 3],), ([-1, -2, -3],)])


def _code_join(rng: random.Random):
    sep = rng.choice(["-", "+", ", ", "/", " | "])
    times = rng.randint(2, 4)
    return (f"join:{sep}:{times}", "repeat_join", "word: str", "str",
            f"Return word repeated {times} times, the copies separated by {sep!r}.",
            f"return {sep!r}.join([word] * {times})", lambda w: sep.join([w] * times),
            [("",), ("ab",), (rng.choice(_WORDS),)])


_CODE_MAKERS = [_code_add, _code_scale, _code_count_char, _code_clamp, _code_palindrome, _code_vowels,
                _code_multiples, _code_every_kth, _code_digit_sum, _code_rotate, _code_running, _code_join]


def humaneval_items(n: int, seed: int = 0) -> list[dict]:
    """``n`` distinct HumanEval-format tasks: ``task_id``, ``prompt``, ``canonical_solution``, ``test``,
    ``entry_point``; the prompt ends after the docstring, the solution is the indented body."""
    rng = random.Random(f"humaneval-{seed}")
    seen: set[str] = set()
    rows = []
    for _ in range(200 * n + 1000):
        key, name, params, returns, doc, body, ref, inputs = rng.choice(_CODE_MAKERS)(rng)
        if key in seen:
            continue
        seen.add(key)
        args = lambda values: ", ".join(map(repr, values))  # noqa: E731
        header = "from typing import List\n\n\n" if "List" in params + returns else ""
        prompt = (f"{header}def {name}({params}) -> {returns}:\n    \"\"\" {doc}\n"
                  f"    >>> {name}({args(inputs[-1])})\n    {ref(*inputs[-1])!r}\n    \"\"\"\n")
        asserts = "".join(f"    assert candidate({args(x)}) == {ref(*x)!r}\n" for x in inputs)
        rows.append({"task_id": f"Synthetic/{len(rows)}", "prompt": prompt, "canonical_solution": f"    {body}\n",
                     "test": f"\n\nMETADATA = {{'source': 'compass synthetic'}}\n\n\ndef check(candidate):\n{asserts}",
                     "entry_point": name})
        if len(rows) == n:
            return rows
    raise ValueError(f"only {len(rows)} distinct synthetic HumanEval tasks exist, asked for {n}")


def write_humaneval(path: str | Path, n: int = 20, seed: int = 0) -> Path:
    """Write ``n`` synthetic tasks to ``path`` in HumanEval's jsonl layout (gzipped if it ends in .gz)."""
    import gzip

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row) + "\n" for row in humaneval_items(n, seed))
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        path.write_text(text)
    return path


# -- C-Eval-format items (Chinese) and MATH-format problems ---------------------------------------
# Subject names are C-Eval's and MATH's own; the items are templates of ours (arithmetic, unit
# conversion, weekdays; algebra, remainders, areas...), whatever the subject they are filed under.
# The mini set: two subjects per C-Eval category, two of them Hard, with unequal val sizes, exactly as
# summarizers/ceval.py (ceval_mini_val_counts) weights them; tests/test_ceval.py checks they agree.
CEVAL_MINI_VAL_COUNTS = {"advanced_mathematics": 4, "high_school_physics": 2, "college_economics": 5,
                         "middle_school_geography": 2, "logic": 3, "modern_chinese_history": 2, "accountant": 4,
                         "physician": 2}
_ZH_UNITS = [("小时", "分钟", 60), ("分钟", "秒", 60), ("天", "小时", 24), ("周", "天", 7), ("年", "个月", 12),
             ("米", "厘米", 100), ("千克", "克", 1000)]
_ZH_WEEKDAYS = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]


@dataclass(frozen=True)
class CevalItem:
    question: str
    choices: tuple[str, str, str, str]
    answer: str  # 'A'..'D'
    explanation: str


def _ceval_arithmetic(rng: random.Random) -> tuple[str, CevalItem]:
    a, b, op = rng.randint(2, 60), rng.randint(2, 60), rng.choice("+-×")
    if op == "-" and b > a:
        a, b = b, a
    if op == "×":
        a, b = a % 12 + 2, b % 12 + 2
    value = a + b if op == "+" else a - b if op == "-" else a * b
    choices, answer = _mc(rng, str(value), [str(value + d) for d in rng.sample([-10, -2, -1, 1, 2, 10], 5)])
    return f"ceval-arith:{a}{op}{b}", CevalItem(f"计算：{a} {op} {b} = （　）", choices, answer,
                                                f"{a} {op} {b} = {value}，故选{answer}。")


def _ceval_units(rng: random.Random) -> tuple[str, CevalItem]:
    big, small, factor = rng.choice(_ZH_UNITS)
    n = rng.randint(2, 40)
    value = n * factor
    wrong = [value + factor, value - factor, n + factor, n * 10, value * 10]
    choices, answer = _mc(rng, f"{value}{small}", [f"{w}{small}" for w in wrong])
    return f"ceval-units:{n}{big}", CevalItem(f"{n}{big}等于多少{small}？", choices, answer,
                                              f"1{big}等于{factor}{small}，{n} × {factor} = {value}，故选{answer}。")


def _ceval_comparison(rng: random.Random) -> tuple[str, CevalItem]:
    numbers = rng.sample(range(1, 200), 4)
    largest = rng.random() < 0.5
    correct = max(numbers) if largest else min(numbers)
    choices, answer = _mc(rng, str(correct), [str(n) for n in numbers])
    word = "最大" if largest else "最小"
    key = f"ceval-cmp:{word}:" + ",".join(map(str, sorted(numbers)))
    return key, CevalItem(f"下列各数中，{word}的是（　）。", choices, answer, f"比较四个数可知{word}的是{correct}，故选{answer}。")


def _ceval_weekday(rng: random.Random) -> tuple[str, CevalItem]:
    start, days = rng.randrange(7), rng.randint(1, 40)
    correct = _ZH_WEEKDAYS[(start + days) % 7]
    choices, answer = _mc(rng, correct, rng.sample(_ZH_WEEKDAYS, 7))
    return f"ceval-week:{start}:{days}", CevalItem(
        f"今天是{_ZH_WEEKDAYS[start]}，再过{days}天是星期几？", choices, answer,
        f"{days} ÷ 7 余 {days % 7}，从{_ZH_WEEKDAYS[start]}往后数{days % 7}天是{correct}，故选{answer}。")


def _ceval_item(rng: random.Random) -> tuple[str, CevalItem]:
    return rng.choice([_ceval_arithmetic, _ceval_units, _ceval_comparison, _ceval_weekday])(rng)


def ceval_items(subject: str, split: str, n: int, seed: int = 0) -> list[CevalItem]:
    """``n`` distinct C-Eval-style items (Chinese) for ``subject`` that belong to ``split``."""
    return _collect(_ceval_item, f"ceval-{subject}-{split}-{seed}", split, n)


def write_ceval(root: str | Path, subjects: list[str] | None = None, n_dev: int = 5,
                n_val: int | dict[str, int] | None = None, n_test: int = 5, seed: int = 0) -> Path:
    """Write ``root/{dev,val,test}/<subject>_<split>.csv`` in C-Eval's layout: a header row; dev with
    answers and explanations, val with answers, test without answers (as the official test split).
    ``n_val`` is one size for every subject or a size per subject; by default, the mini set's."""
    root = Path(root)
    n_val = CEVAL_MINI_VAL_COUNTS if n_val is None else n_val
    columns = {"dev": ["answer", "explanation"], "val": ["answer"], "test": []}
    for subject in subjects or (list(n_val) if isinstance(n_val, dict) else list(CEVAL_MINI_VAL_COUNTS)):
        val = n_val[subject] if isinstance(n_val, dict) else n_val
        for split, n in (("dev", n_dev), ("val", val), ("test", n_test)):
            out = root / split / f"{subject}_{split}.csv"
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(["id", "question", *LETTERS, *columns[split]])
                for i, item in enumerate(ceval_items(subject, split, n, seed)):
                    extra = {"answer": item.answer, "explanation": item.explanation}
                    writer.writerow([i, item.question, *item.choices, *(extra[c] for c in columns[split])])
    return root


MATH_TYPES = {"algebra": "Algebra", "counting_and_probability": "Counting & Probability", "geometry": "Geometry",
              "intermediate_algebra": "Intermediate Algebra", "number_theory": "Number Theory",
              "prealgebra": "Prealgebra", "precalculus": "Precalculus"}


def _frac_forms(value) -> list[str]:
    """Equivalent ways a MATH solution writes a rational final answer."""
    if value.denominator == 1:
        return [str(value.numerator)]
    sign, p, q = "-" if value < 0 else "", abs(value.numerator), value.denominator
    return [f"{sign}\\frac{{{p}}}{{{q}}}", f"{sign}\\dfrac{{{p}}}{{{q}}}", f"{sign}\\tfrac{{{p}}}{{{q}}}"]


def _signed(b: int) -> str:
    return f"+ {b}" if b >= 0 else f"- {-b}"


def _math_problem(subject: str, rng: random.Random) -> tuple[str, int, str, str]:
    """(key, level, problem, solution) for one templated problem of ``subject``."""
    from fractions import Fraction
    from math import comb, gcd

    pick = rng.choice
    if subject == "prealgebra":
        a, b, c = rng.randint(2, 99), rng.randint(2, 12), rng.randint(1, 50)
        if rng.random() < 0.5:
            return f"pre-sum:{a}:{c}", 1, f"What is ${a} + {c}$?", f"Adding, ${a} + {c} = \\boxed{{{a + c}}}$."
        return (f"pre-mul:{a}:{b}:{c}", 2, f"Compute ${a} \\times {b} - {c}$.",
                f"First ${a} \\times {b} = {a * b}$, and then ${a * b} - {c} = \\boxed{{{a * b - c}}}$.")
    if subject == "algebra":
        a, b, c, k = rng.randint(2, 9), rng.randint(-20, 20), rng.randint(-20, 20), rng.randint(1, 9)
        if rng.random() < 0.6:
            x = Fraction(c - b, a)
            form = pick(_frac_forms(x))
            last = pick([f"$\\boxed{{x = {form}}}$", f"$x = \\boxed{{{form}}}$"])
            return (f"alg-lin:{a}:{b}:{c}", 2, f"Solve for $x$: ${a}x {_signed(b)} = {c}$.",
                    f"Subtracting ${b}$ from both sides gives ${a}x = {c - b}$, so {last}.")
        inner = a * k + b
        return (f"alg-comp:{a}:{b}:{k}", 4, f"If $f(x) = {a}x {_signed(b)}$, what is $f(f({k}))$?",
                f"We have $f({k}) = {inner}$, so $f(f({k})) = f({inner}) = {a} \\cdot {inner} {_signed(b)} = "
                f"\\boxed{{{a * inner + b}}}$.")
    if subject == "number_theory":
        a, b, m = rng.randint(100, 999), rng.randint(2, 40), rng.randint(3, 13)
        kind = pick(["mod", "gcd", "pow"])
        if kind == "mod":
            return (f"nt-mod:{a}:{m}", 1, f"What is the remainder when ${a}$ is divided by ${m}$?",
                    f"Since ${a} = {m} \\cdot {a // m} + {a % m}$, the remainder is $\\boxed{{{a % m}}}$.")
        if kind == "gcd":
            g = rng.randint(2, 12)
            x, y = g * rng.randint(2, 30), g * rng.randint(2, 30)
            return (f"nt-gcd:{x}:{y}", 3, f"What is the greatest common divisor of ${x}$ and ${y}$?",
                    f"By the Euclidean algorithm, $\\gcd({x}, {y}) = \\boxed{{{gcd(x, y)}}}$.")
        base, e = rng.randint(2, 9), rng.randint(10, 60)
        return (f"nt-pow:{base}:{e}:{m}", 5, f"What is the remainder when ${base}^{{{e}}}$ is divided by ${m}$?",
                f"Reducing powers of ${base}$ modulo ${m}$ step by step, ${base}^{{{e}}} \\equiv "
                f"\\boxed{{{pow(base, e, m)}}} \\pmod{{{m}}}$.")
    if subject == "counting_and_probability":
        n = rng.randint(5, 14)
        if rng.random() < 0.5:
            k = rng.randint(2, 4)
            return (f"cp-choose:{n}:{k}", 2, f"In how many ways can ${k}$ students be chosen from a group of ${n}$?",
                    f"The order does not matter, so there are $\\binom{{{n}}}{{{k}}} = \\boxed{{{comb(n, k)}}}$ ways.")
        flips = n - 3
        form = pick(_frac_forms(Fraction(1, 2 ** flips)))
        return (f"cp-coin:{flips}", 3, f"A fair coin is flipped ${flips}$ times. What is the probability that every "
                f"flip lands heads? Express your answer as a common fraction.",
                f"Each flip lands heads with probability $\\frac12$, so the answer is "
                f"$\\left(\\frac12\\right)^{{{flips}}} = \\boxed{{{form}}}$.")
    if subject == "geometry":
        a, b = rng.randint(2, 30), rng.randint(2, 30)
        kind = pick(["rect", "tri", "circle"])
        if kind == "rect":
            form = pick([f"{a * b}", f"{a * b}\\text{{ square units}}"])
            return (f"geo-rect:{a}:{b}", 1, f"A rectangle has length ${a}$ units and width ${b}$ units. What is its "
                    f"area, in square units?", f"The area is ${a} \\times {b} = \\boxed{{{form}}}$.")
        if kind == "tri":
            area = Fraction(a * b, 2)
            form = pick(_frac_forms(area) + ([f"{float(area)}"] if area.denominator == 2 else []))
            return (f"geo-tri:{min(a, b)}:{max(a, b)}", 2, f"A right triangle has legs of length ${a}$ and ${b}$. "
                    f"What is its area?", f"The area is $\\frac12 \\cdot {a} \\cdot {b} = \\boxed{{{form}}}$.")
        form = pick([f"{a * a}\\pi", f"{a * a} \\pi", f"\\pi \\cdot {a * a}"])
        return (f"geo-circle:{a}", 5, f"A circle has radius ${a}$. What is its area? Express your answer in terms "
                f"of $\\pi$.", f"The area is $\\pi r^2 = \\pi \\cdot {a}^2 = \\boxed{{{form}}}$.")
    if subject == "intermediate_algebra":
        r1, r2 = sorted(rng.sample(range(1, 15), 2))
        s, p = r1 + r2, r1 * r2
        if rng.random() < 0.5:
            form = pick([f"{r1}, {r2}", f"{r2}, {r1}", f"{r1},{r2}"])
            return (f"ia-roots:{r1}:{r2}", 3, f"Find all real roots of $x^2 - {s}x + {p} = 0$. Enter all the roots, "
                    f"separated by commas.", f"The polynomial factors as $(x - {r1})(x - {r2})$, so the roots are "
                    f"$\\boxed{{{form}}}$.")
        return (f"ia-squares:{r1}:{r2}", 4, f"Let $a$ and $b$ be the roots of $x^2 - {s}x + {p} = 0$. Compute "
                f"$a^2 + b^2$.", f"By Vieta's formulas $a + b = {s}$ and $ab = {p}$, so $a^2 + b^2 = (a + b)^2 - 2ab "
                f"= {s * s} - {2 * p} = \\boxed{{{s * s - 2 * p}}}$.")
    if subject == "precalculus":
        a, b, c, d = (rng.randint(-9, 9) for _ in range(4))
        kind = pick(["dot", "det", "polar"])
        if kind == "dot":
            return (f"pc-dot:{a}:{b}:{c}:{d}", 2, f"Compute $\\begin{{pmatrix}} {a} \\\\ {b} \\end{{pmatrix}} \\cdot "
                    f"\\begin{{pmatrix}} {c} \\\\ {d} \\end{{pmatrix}}$.",
                    f"The dot product is $({a})({c}) + ({b})({d}) = \\boxed{{{a * c + b * d}}}$.")
        if kind == "det":
            return (f"pc-det:{a}:{b}:{c}:{d}", 3, f"Compute $\\begin{{vmatrix}} {a} & {b} \\\\ {c} & {d} "
                    f"\\end{{vmatrix}}$.",
                    f"The determinant is $({a})({d}) - ({b})({c}) = \\boxed{{{a * d - b * c}}}$.")
        r = abs(a) + 2
        form = pick([f"\\left( {r}, \\frac{{\\pi}}{{2}} \\right)", f"({r},\\frac{{\\pi}}{{2}})",
                     f"\\left({r}, \\frac\\pi2\\right)"])
        return (f"pc-polar:{r}", 5, f"Convert the point $(0,{r})$ in rectangular coordinates to polar coordinates. "
                f"Enter your answer in the form $(r,\\theta),$ where $r > 0$ and $0 \\le \\theta < 2 \\pi.$",
                f"The point lies on the positive $y$-axis at distance ${r}$ from the origin, so its polar coordinates "
                f"are $\\boxed{{{form}}}$.")
    raise ValueError(f"unknown MATH subject {subject!r}; known: {', '.join(MATH_TYPES)}")


def math_items(subject: str, split: str, n: int, seed: int = 0) -> list[dict]:
    """``n`` distinct MATH-style rows (``problem``, ``level``, ``type``, ``solution``) of ``subject`` in ``split``."""
    def make(rng: random.Random) -> tuple[str, dict]:
        key, level, problem, solution = _math_problem(subject, rng)
        return f"math-{subject}:{key}", {"problem": problem, "level": f"Level {level}", "type": MATH_TYPES[subject],
                                         "solution": solution}

    return _collect(make, f"math-{subject}-{split}-{seed}", split, n)


def write_math(root: str | Path, subjects: list[str] | None = None, n_train: int = 4, n_test: int = 5,
               seed: int = 0) -> Path:
    """Write ``root/{train,test}/<subject>/<n>.json`` in MATH's layout (n counts from 1)."""
    root = Path(root)
    for subject in subjects or list(MATH_TYPES):
        for split, n in (("train", n_train), ("test", n_test)):
            folder = root / split / subject
            folder.mkdir(parents=True, exist_ok=True)
            for i, row in enumerate(math_items(subject, split, n, seed), 1):
                (folder / f"{i}.json").write_text(json.dumps(row, indent=4) + "\n", encoding="utf-8")
    return root
