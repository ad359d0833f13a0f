"""C-Eval-format items (Chinese) in C-Eval's CSV layout."""
from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from compass.synthetic.common import LETTERS, collect, multiple_choice

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
    choices, answer = multiple_choice(rng, str(value), [str(value + d) for d in rng.sample([-10, -2, -1, 1, 2, 10], 5)])
    return f"ceval-arith:{a}{op}{b}", CevalItem(f"计算：{a} {op} {b} = （　）", choices, answer,
                                                f"{a} {op} {b} = {value}，故选{answer}。")


def _ceval_units(rng: random.Random) -> tuple[str, CevalItem]:
    big, small, factor = rng.choice(_ZH_UNITS)
    n = rng.randint(2, 40)
    value = n * factor
    wrong = [value + factor, value - factor, n + factor, n * 10, value * 10]
    choices, answer = multiple_choice(rng, f"{value}{small}", [f"{w}{small}" for w in wrong])
    return f"ceval-units:{n}{big}", CevalItem(f"{n}{big}等于多少{small}？", choices, answer,
                                              f"1{big}等于{factor}{small}，{n} × {factor} = {value}，故选{answer}。")


def _ceval_comparison(rng: random.Random) -> tuple[str, CevalItem]:
    numbers = rng.sample(range(1, 200), 4)
    largest = rng.random() < 0.5
    correct = max(numbers) if largest else min(numbers)
    choices, answer = multiple_choice(rng, str(correct), [str(n) for n in numbers])
    word = "最大" if largest else "最小"
    key = f"ceval-cmp:{word}:" + ",".join(map(str, sorted(numbers)))
    return key, CevalItem(f"下列各数中，{word}的是（　）。", choices, answer,
                          f"比较四个数可知{word}的是{correct}，故选{answer}。")


def _ceval_weekday(rng: random.Random) -> tuple[str, CevalItem]:
    start, days = rng.randrange(7), rng.randint(1, 40)
    correct = _ZH_WEEKDAYS[(start + days) % 7]
    choices, answer = multiple_choice(rng, correct, rng.sample(_ZH_WEEKDAYS, 7))
    return f"ceval-week:{start}:{days}", CevalItem(
        f"今天是{_ZH_WEEKDAYS[start]}，再过{days}天是星期几？", choices, answer,
        f"{days} ÷ 7 余 {days % 7}，从{_ZH_WEEKDAYS[start]}往后数{days % 7}天是{correct}，故选{answer}。")


def _ceval_item(rng: random.Random) -> tuple[str, CevalItem]:
    return rng.choice([_ceval_arithmetic, _ceval_units, _ceval_comparison, _ceval_weekday])(rng)


def ceval_items(subject: str, split: str, n: int, seed: int = 0) -> list[CevalItem]:
    """``n`` distinct C-Eval-style items (Chinese) for ``subject`` that belong to ``split``."""
    return collect(_ceval_item, f"ceval-{subject}-{split}-{seed}", split, n)


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
