"""Answer extraction and equivalence checking for MATH-style benchmarks (``extract``,
``normalize``, ``equiv``; ``judge`` is the evaluator built on them).

Public API
----------
``extract_boxed(text)``
    Content of the last ``\\boxed{...}`` / ``\\boxed x`` / ``\\fbox{...}``.
``extract_answer(text)``
    Boxed answer first, then "final answer is X" / "The answer is X" /
    "Answer: X" phrases, then the last ``$...$`` math span.
``normalize(ans)``
    Hendrycks-style string normalisation of a final answer (extended).
``is_equiv(pred, gold)``
    Normalised string equality, then a time-bounded symbolic check.
``score_math(prediction, gold_solution)``
    Extract gold's last boxed answer and the prediction's answer and compare.

Equivalence policy (what counts as "the same answer")
------------------------------------------------------
* Numbers: exact rationals compare exactly (``\\frac{1}{2}`` == ``0.5`` ==
  ``.5`` == ``0.50`` == ``1/2``).  A decimal is accepted for a non-terminating
  rational or irrational value only when it agrees to 6 decimal places
  (``0.333333`` == ``\\frac13``, but ``0.33`` != ``\\frac13``).
* Formatting is ignored: spaces, ``\\left``/``\\right``, ``\\!``, ``\\dfrac``/
  ``\\tfrac``, thousands separators (``1,000`` / ``1{,}000`` / ``1\\,000``),
  trailing ``.0``, ``\\$``, a trailing sentence period, ``\\text{}`` wrappers.
* Percent signs: ``10\\%`` == ``10`` (MATH's convention: the question already
  says "what percent"), and, the value being the same, ``10\\%`` == ``0.1``
  too.  Without a percent sign anywhere, ``0.1`` != ``10`` of course.
* Degrees are formatting: ``90^\\circ`` == ``90`` (not ``\\frac{\\pi}{2}``).
* Trailing unit words are dropped: ``5\\text{ inches}`` == ``5`` == ``5 cm``
  (so two different units on the same number also compare equal).
* Simple assignments: ``x = 3`` == ``3`` (one ``=``, short variable on the left).
* Multiple-choice letters: ``\\text{(B)}`` == ``(B)`` == ``B``.
* Text answers compare case-insensitively (``\\text{Monday}`` == ``monday``).
* Order: a bare comma list of solutions (``1, 2``) and a set (``\\{1,2\\}``)
  are UNORDERED (``1, 2`` == ``2, 1``); when the gold is a bare list the
  prediction may also bracket it (gold ``1, 2``: ``(2, 1)`` is accepted).
  Tuples / points ``(1,2)``, intervals ``(1,2]`` and matrices / vectors are
  ORDERED (gold ``(1, 2)``: ``2, 1`` and ``(2, 1)`` are rejected), interval
  endpoint types matter (``(1,2]`` != ``(1,2)``), and a set is never a
  tuple or interval (``\\{1,2\\}`` != ``(1,2)``).
* The comparison is not fully symmetric where math-verify is not: e.g. a
  predicted interval matches a gold inequality (``[2,\\infty)`` for gold
  ``x \\ge 2``) but not the other way round.
* Algebraic equivalence is accepted: ``2\\sqrt{2}`` == ``\\sqrt{8}``,
  ``x^2+2x+1`` == ``(x+1)^2``, ``\\sqrt{2}/2`` == ``\\frac{\\sqrt2}{2}``.
* Scientific notation: ``1.5\\times10^{3}`` == ``1.5e3`` == ``1500``.

The symbolic check uses ``math-verify`` (HuggingFace; sympy + an ANTLR LaTeX
parser).  Each check is bounded by ``timeout`` seconds: in the main thread via
``SIGALRM``/``setitimer`` (any timer already set, e.g. by pytest-timeout, is
restored afterwards), in other threads by running the check in a daemon worker
thread and abandoning it on timeout.  In addition, expressions with power
towers, very large exponents or factorials of big numbers are refused before
sympy sees them, because CPython big-integer arithmetic cannot be interrupted
by a signal.  A timed-out or refused check counts as "not equivalent".
"""
from compass.evaluators.math.equiv import (
    DEFAULT_TIMEOUT,
    is_equiv,
    score_math,
    symbolic_backend_available,
    symbolic_equiv,
)
from compass.evaluators.math.extract import extract_answer, extract_boxed
from compass.evaluators.math.normalize import normalize

__all__ = [
    "DEFAULT_TIMEOUT",
    "extract_answer",
    "extract_boxed",
    "is_equiv",
    "normalize",
    "score_math",
    "symbolic_backend_available",
    "symbolic_equiv",
]
