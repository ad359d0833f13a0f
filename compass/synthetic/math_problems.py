"""MATH-format problems with worked solutions ending in ``\\boxed{}``, in MATH's layout."""
from __future__ import annotations

import json
import random
from pathlib import Path

from compass.synthetic.common import collect

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
            root = Fraction(c - b, a)
            form = pick(_frac_forms(root))
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

    return collect(make, f"math-{subject}-{split}-{seed}", split, n)


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
