"""Tests for compass.evaluators.math_equiv (MATH answer extraction/equivalence)."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from compass.evaluators.math import (
    equiv,
    extract_answer,
    extract_boxed,
    is_equiv,
    normalize,
    score_math,
    timeout,
)

# (prediction, gold) pairs that MUST be judged equivalent.
EQUIVALENT = [
    (r"0.5", r"\frac{1}{2}"),
    (r"[1, 2]", r"[1,2]"),
    (r"\sqrt{8}", r"2\sqrt{2}"),
    (r"(x+1)^2", r"x^2+2x+1"),
    (r"B", r"\text{(B)}"),
    (r"(C)", r"\text{(C)}"),
    (r"1000", r"1,000"),
    (r"1000000", r"1,000,000"),
    (r"1000", r"1{,}000"),
    (r"\begin{pmatrix}1 \\ 2\end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}"),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}"),
    (r"\begin{pmatrix} 1/2 \\ 0 \end{pmatrix}", r"\begin{pmatrix} \frac12 \\ 0 \end{pmatrix}"),
    (r"10", r"10\%"),  # policy: percent sign is formatting
    (r"25.0", r"25\%"),
    (r"0.25", r"25\%"),  # policy: an explicit percent may also be read as /100
    (r"\dfrac12", r"\frac{1}{2}"),
    (r"\tfrac34", r"\frac{3}{4}"),
    (r".5", r"0.5"),
    (r"3.0", r"3"),
    (r"18.00", r"18"),
    (r"x = 3", r"3"),
    (r"2x + 3", r"y = 2x+3"),
    (r"5\text{ inches}", r"5"),
    (r"12", r"12 \text{ cm}"),
    (r"6", r"6 \text{ square units}"),
    (r"3 hours", r"3"),
    (r"90", r"90^\circ"),
    (r"45^{\circ}", r"45"),
    (r"\$5", r"5"),
    (r"12.5", r"\$ 12.50"),
    (r"\sqrt{2}/2", r"\frac{\sqrt2}{2}"),
    (r"\frac{1}{\sqrt{2}}", r"\frac{\sqrt{2}}{2}"),
    (r"\pi \cdot 2", r"2\pi"),
    (r"\frac14\pi", r"\frac{\pi}{4}"),
    (r"8 \pi", r"8\pi"),
    (r"-5.0", r"-5"),
    (r"\frac{-1}{2}", r"-\frac{1}{2}"),
    (r"-0.5", r"-\frac12"),
    (r"1.5\times10^{3}", r"1500"),
    (r"1.5e3", r"1500"),
    (r"2.5 \times 10^{-3}", r"0.0025"),
    (r"2, 1", r"1, 2"),  # policy: bare solution lists are unordered
    (r"3, -2", r"-2, 3"),
    (r"\{2,1\}", r"\{1,2\}"),
    (r"\left\{ 1, 2 \right\}", r"\{1, 2\}"),
    (r"\left(1, 2\right]", r"(1,2]"),
    (r"(-\infty,3)", r"(-\infty, 3)"),
    (r"(1, 2) \cup (3, 4)", r"(1,2)\cup(3,4)"),
    (r"\left( 3, -4 \right)", r"(3,-4)"),
    (r"Monday", r"\text{Monday}"),
    (r"\textbf{even}", r"\text{even}"),
    (r"1/3", r"\frac{1}{3}"),
    (r"0.333333", r"\frac13"),  # 6 decimal places agree
    (r"x^{2}", r"x^2"),
    (r"0.5x", r"\frac{x}{2}"),
    (r"\sqrt{48}", r"4\sqrt{3}"),
    (r"\sqrt{50}", r"5\sqrt{2}"),
    (r"3.5", r"\frac{7}{2}"),
    (r"1024", r"2^{10}"),
    (r"1+\sqrt3", r"\sqrt{3}+1"),
    (r"\frac{b+a}{2}", r"\frac{a+b}{2}"),
    (r"\infty", r"\infty"),
    (r"0.25", r"\frac{1}{4}"),
    (r"007", r"7"),
    (r"1\,000", r"1000"),
    (r"1.\overline{3}", r"\frac{4}{3}"),
    (r"0.\overline{3}", r"\frac{1}{3}"),
    (r"\text{(D)}\ 7", r"D"),
    (r"2\text{ and }-2", r"-2, 2"),
    (r"\log_2 8", r"3"),
    (r"30^{\circ}\text{C}", r"30"),
    (r"x \in [1, 2)", r"[1,2)"),
    (r"\frac{5}{2}\text{ cm}", r"2.5"),
    (r"2^{\frac{1}{2}}", r"\sqrt{2}"),
    (r"\frac{4}{3}\pi r^3", r"\frac{4\pi r^3}{3}"),
    (r"\binom{5}{2}", r"10"),
    (r"(2, 1)", r"1, 2"),  # gold bare list = unordered solutions
    (r"[2, \infty)", r"x \ge 2"),
]

# (prediction, gold) pairs that must NOT be judged equivalent.
NOT_EQUIVALENT = [
    (r"0.33", r"\frac{1}{3}"),
    (r"(1,2)", r"(1,2]"),
    (r"-5", r"5"),
    (r"\begin{pmatrix}1\\3\end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}"),
    (r"\begin{pmatrix}1&3\\2&4\end{pmatrix}", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}"),
    (r"(2,1)", r"(1,2)"),  # tuples are ordered
    (r"(-4, 3)", r"(3, -4)"),
    (r"(1,2)", r"[1,2]"),
    (r"2", r"\sqrt{2}"),
    (r"(x-1)^2", r"x^2+2x+1"),
    (r"x-1", r"x+1"),
    (r"C", r"\text{(B)}"),
    (r"\text{Tuesday}", r"\text{Monday}"),
    (r"100", r"1000"),
    (r"0.25", r"25"),
    (r"0.1", r"10"),
    (r"15", r"1.5"),
    (r"2", r"\frac{1}{2}"),
    (r"\pi", r"2\pi"),
    (r"1, 2, 3", r"1, 2"),
    (r"1, 3", r"1, 2"),
    (r"\{1,3\}", r"\{1,2\}"),
    (r"100", r"10"),
    (r"-\infty", r"\infty"),
    (r"100", r"1e3"),
    (r"3\sqrt{2}", r"\sqrt{8}"),
    (r"\frac{\pi}{2}", r"90^\circ"),  # policy: degrees are not converted
    (r"x = 4", r"3"),
    (r"0.50001", r"0.5"),
    (r"1,2", r"12"),
    (r"23", r"2, 3"),
    (r"(1,2)", r"\{1,2\}"),  # a point/interval is not a set
    (r"1\frac{1}{2}", r"\frac{1}{2}"),
    (r"\pm 2", r"2"),
    (r"\text{(A)}", r"\text{(B)}"),
    (r"odd", r"even"),
    (r"silent", r"listen"),  # words are not products of single-letter symbols
    (r"\text{Silent}", r"\text{listen}"),
    (r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{pmatrix}1&2\end{pmatrix}"),
    (r"(1,2,3)", r"(1,2)"),
    (r"2, 1", r"(1, 2)"),  # gold tuple = ordered
    (r"", r"5"),
    (r"5", r""),
]


def test_battery_sizes():
    assert len(EQUIVALENT) >= 40
    assert len(NOT_EQUIVALENT) >= 20


@pytest.mark.parametrize("pred,gold", EQUIVALENT)
def test_equivalent(pred, gold):
    assert is_equiv(pred, gold), (pred, gold, normalize(pred), normalize(gold))


@pytest.mark.parametrize("pred,gold", NOT_EQUIVALENT)
def test_not_equivalent(pred, gold):
    assert not is_equiv(pred, gold), (pred, gold, normalize(pred), normalize(gold))


def test_equivalence_is_symmetric_on_battery():
    for pred, gold in EQUIVALENT[:20]:
        assert is_equiv(gold, pred), (gold, pred)
    for pred, gold in NOT_EQUIVALENT[:20]:
        assert not is_equiv(gold, pred), (gold, pred)


def test_none_inputs():
    assert not is_equiv(None, "1")
    assert not is_equiv("1", None)


# ---------------------------------------------------------------------------
# normalize
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,expected",
    [
        (r"\left( 3, \frac12 \right)", r"(3,\frac{1}{2})"),
        (r"\dfrac{\sqrt 2}{2}", r"\frac{\sqrt{2}}{2}"),
        (r"\frac\pi2", r"\frac{\pi}{2}"),
        (r"\$1,000.00", "1000"),
        (r"10\%", "10"),
        (r"90^\circ", "90"),
        (r"x = 3", "3"),
        (r"\text{(C)}", "C"),
        (".5", "0.5"),
        ("-.5", "-0.5"),
        ("2.50", "2.5"),
        (r"5\text{ inches}", "5"),
        (r"12 \text{ square units}", "12"),
        (r"5\,000", "5000"),
        (r"\frac{1}{2}.", r"\frac{1}{2}"),
        (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}"),
        (r"(1,234)", "(1,234)"),  # a point, not a thousands separator
        (r"$\pi r^{2}$", r"\pi r^2"),
        (r"\mbox{Monday}", "Monday"),
        (r"\boxed{\frac12}", r"\frac{1}{2}"),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


# ---------------------------------------------------------------------------
# extraction
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        (r"so $\boxed{\frac{1}{\sqrt{2}}}$.", r"\frac{1}{\sqrt{2}}"),
        (r"\boxed{\{1,2\}}", r"\{1,2\}"),
        (r"\boxed{\begin{pmatrix}1\\2\end{pmatrix}}", r"\begin{pmatrix}1\\2\end{pmatrix}"),
        (r"first \boxed{1} then \boxed{2}", "2"),
        (r"\boxed{{a}^{b_{c}}}", r"{a}^{b_{c}}"),
        (r"\boxed{\text{(C)}}", r"\text{(C)}"),
        (r"The answer is $\boxed 5$.", "5"),
        (r"\fbox{3}", "3"),
        (r"\boxed {7}", "7"),
        (r"\boxed{1} and then \boxed{\frac{2}{", "1"),  # truncated last box
        ("no box here", None),
        ("", None),
        (r"\boxedx", None),
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        (r"We get $x=2$, so the answer is $\boxed{4}$.", "4"),
        (r"Thus the answer is $\frac{1}{2}$.", r"\frac{1}{2}"),
        ("Final Answer: The final answer is $5$. I hope it is correct.", "5"),
        ("The final answer is 42.", "42"),
        ("Some work.\nAnswer: 17", "17"),
        (r"First $a=1$, then we get $b = 3$ and finally $c = 7$", "c = 7"),
        (r"The answer is \(\sqrt{2}\)", r"\sqrt{2}"),
        ("I do not know.", None),
        ("**Final Answer**: 12", "12"),
        ("So our answer is 5 cm, because the side is 5.", "5 cm"),
        ("The answer is: $x = -3$", "x = -3"),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


# ---------------------------------------------------------------------------
# time limits
# ---------------------------------------------------------------------------

PATHOLOGICAL = [
    (r"9^{9^{9^{9}}}", "1"),
    (r"1", r"9^{9^{9^{9}}}"),
    (r"2^{10^{10}}", r"2^{10^{10}}+1"),
    (r"10^{100000000}", "1"),
    (r"(10^{9})!", "1"),
    ("+".join(["x"] * 3000), "3000x"),
    ("(" * 600 + "1" + ")" * 600, "2"),
    # these pass the cheap pre-screen, so only the time limit stops them
    # (unbounded, the first takes minutes in sympy's simplify)
    (r"(a+b+c+d+e+f+g)^{12}", r"(a+b+c+d+e+f+g)^{11}(a+b+c+d+e+f+h)"),
    (r"\sum_{k=1}^{9999} k^{k}", "1"),
]


# Bounds below are on this process's CPU time, not wall time: another job on the machine slows
# the wall clock, never inflates the CPU a check burns, and an unbounded check burns minutes.


@pytest.mark.parametrize("pred,gold", PATHOLOGICAL, ids=[f"patho{i}" for i in range(len(PATHOLOGICAL))])
def test_pathological_inputs_return_quickly(pred, gold):
    t0 = time.process_time()
    assert is_equiv(pred, gold) is False
    assert time.process_time() - t0 < 3.0


def test_time_limit_without_prescreen(monkeypatch):
    monkeypatch.setattr(equiv, "_too_expensive", lambda s: False)
    for pred, gold in [(r"9^{9^{9^{9}}}", "1"), (r"10^{100000000}", "1")]:
        t0 = time.process_time()
        assert is_equiv(pred, gold, timeout=1.0) is False
        assert time.process_time() - t0 < 2.0


def test_prescreen_keeps_ordinary_answers():
    for s in [r"2^{10}", r"x^{2}+1", r"\frac{10!}{2^3}", r"10^{-3}", r"1.5\times10^{8}"]:
        assert not equiv._too_expensive(s), s
    for s in [r"9^{9^{9}}", r"2^{123456}", r"(10^{9})!", "x" * 2000]:
        assert equiv._too_expensive(s), s


def test_timed_out_check_in_thread_stops_worker():
    pred, gold = PATHOLOGICAL[-2]
    t0 = time.process_time()
    with ThreadPoolExecutor(max_workers=1) as ex:
        assert ex.submit(is_equiv, pred, gold, 1.0).result() is False
    assert time.process_time() - t0 < 2.5
    # the abandoned worker was told to stop and does so (a generous wait: it ends as soon as it stops)
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        if not any(t.name == "math_equiv-check" for t in threading.enumerate()):
            break
        time.sleep(0.05)
    assert not any(t.name == "math_equiv-check" for t in threading.enumerate())


def _slow(delay: float):
    def fn():
        # pure-Python busy loop: interruptible like sympy code; runs for ``delay`` seconds of CPU
        end = time.thread_time() + delay
        while time.thread_time() < end:
            pass
        return True

    return fn


def test_run_with_timeout_main_thread_interrupts():
    t0 = time.process_time()
    with pytest.raises(timeout.Timeout):
        timeout.run_with_timeout(_slow(10), 0.3)
    assert time.process_time() - t0 < 2.0
    assert timeout.run_with_timeout(lambda: 5, 0.3) == 5


def test_run_with_timeout_restores_outer_timer():
    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        timeout.run_with_timeout(lambda: 1, 0.5)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 3.0 < remaining <= 5.0
        assert signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert not fired


def test_run_with_timeout_worker_thread():
    out = {}

    def work():
        t0 = time.monotonic()  # this thread waits rather than computes: wall time, bounded far below 30 s
        try:
            timeout.run_with_timeout(_slow(30), 0.3)
        except timeout.Timeout:
            out["timeout"] = time.monotonic() - t0
        out["value"] = timeout.run_with_timeout(lambda: 7, 0.3)

    th = threading.Thread(target=work)
    th.start()
    th.join(60)
    assert out.get("timeout", 99) < 10.0
    assert out["value"] == 7


def test_is_equiv_from_thread_pool():
    pairs = EQUIVALENT[:8] + NOT_EQUIVALENT[:8]
    expected = [True] * 8 + [False] * 8
    with ThreadPoolExecutor(max_workers=2) as ex:
        results = list(ex.map(lambda p: is_equiv(*p), pairs))
    assert results == expected


# ---------------------------------------------------------------------------
# score_math on MATH-style solutions
# ---------------------------------------------------------------------------

# (gold solution, prediction written with the answer in another, equal form)
MATH_STYLE = [
    (
        r"The slope is $\frac{6-2}{4-0}=1$, and so $m+b = 1 + 2 = \boxed{3}$.",
        r"Adding, we find $m+b=3.0$. Final Answer: The final answer is $3.0$. I hope it is correct.",
    ),
    (
        r"We have $\frac{3}{6} = \boxed{\frac{1}{2}}$.",
        r"So the probability is $\boxed{0.5}$.",
    ),
    (
        r"The roots are $x=\boxed{-2, 3}$.",
        r"Factoring gives $(x-3)(x+2)=0$, so $\boxed{3, -2}$.",
    ),
    (
        r"Its area is $\pi r^2 = \boxed{16\pi}$ square units.",
        r"The area is $\boxed{16 \pi \text{ square units}}$.",
    ),
    (
        r"The vertex is at $\boxed{(2,-1)}$.",
        r"The vertex is at $\boxed{\left( 2, -1 \right)}$.",
    ),
    (
        r"Hence $\boxed{\text{(C)}}$ is correct.",
        r"The answer is (C).",
    ),
    (
        r"The total cost is $\boxed{\$1,\!250}$.",
        r"The cost is $\boxed{1250}$ dollars.",
    ),
    (
        r"So $\tan 45^\circ = \boxed{1}$.",
        r"The final answer is 1.",
    ),
    (
        r"The angle measures $\boxed{30^\circ}$.",
        r"Therefore the angle is $\boxed{30}$ degrees.",
    ),
    (
        r"The distance is $\sqrt{32} = \boxed{4\sqrt{2}}$.",
        r"The distance is $\boxed{\sqrt{32}}$.",
    ),
    (
        r"The solution set is $\boxed{(-\infty, -2] \cup [3, \infty)}$.",
        r"So $x \in \boxed{(-\infty,-2]\cup[3,\infty)}$",
    ),
    (
        r"Then $\mathbf{v} = \boxed{\begin{pmatrix} -1 \\ 2 \end{pmatrix}}$.",
        r"$\mathbf{v}=\boxed{\begin{pmatrix}-1\\2\end{pmatrix}}$",
    ),
    (
        r"The percentage is $\boxed{40\%}$.",
        r"It increased by $\boxed{40}$ percent.",
    ),
    (
        r"We get $x = \boxed{\dfrac{\sqrt{3}}{3}}$.",
        r"Rationalising, $x = \boxed{\frac{1}{\sqrt3}}$.",
    ),
    (
        r"The sum is $\boxed{5050}$.",
        r"The sum is $\boxed{5,050}$.",
    ),
    (
        r"The expanded form is $\boxed{x^2 - 4}$.",
        r"The answer is $\boxed{(x-2)(x+2)}$.",
    ),
]


def test_math_style_altered_gold_scores_100_percent():
    scores = [score_math(pred, gold) for gold, pred in MATH_STYLE]
    failed = [MATH_STYLE[i] for i, s in enumerate(scores) if not s]
    assert not failed
    assert len(MATH_STYLE) >= 15


def test_math_style_wrong_answers_score_zero():
    # each prediction paired with the next solution's gold must fail
    wrong = [
        score_math(MATH_STYLE[(i + 1) % len(MATH_STYLE)][1], MATH_STYLE[i][0])
        for i in range(len(MATH_STYLE))
    ]
    assert not any(wrong)


def test_score_math_edge_cases():
    assert not score_math("no answer given", r"\boxed{3}")
    assert not score_math(r"\boxed{3}", "")
    assert score_math(r"\boxed{3}", "3")  # bare gold answer
