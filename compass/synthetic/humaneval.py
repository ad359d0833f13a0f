"""HumanEval-format programming tasks with canonical solutions and tests."""
from __future__ import annotations

import json
import random
from pathlib import Path

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

    def ref(xs: list[int]) -> list[int]:
        out: list[int] = []
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
    rows: list[dict] = []
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
