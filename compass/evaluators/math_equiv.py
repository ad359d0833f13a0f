"""Answer extraction and equivalence checking for MATH-style benchmarks.

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

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from fractions import Fraction
from functools import lru_cache
from typing import Callable, TypeVar

__all__ = [
    "extract_boxed",
    "extract_answer",
    "normalize",
    "is_equiv",
    "score_math",
    "symbolic_equiv",
    "SYMBOLIC_BACKEND_AVAILABLE",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0

T = TypeVar("T")

# ---------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def _match_braces(text: str, start: int) -> int | None:
    """``text[start]`` is ``{``; return the index of its matching ``}``.

    Backslash-escaped characters (``\\{``, ``\\}``, ``\\\\``) are skipped, so
    TeX set braces do not count as grouping braces.
    """
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _boxed_at(text: str, m: re.Match) -> str | None:
    i = m.end()
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    if i < n and text[i] == "{":
        end = _match_braces(text, i)
        if end is None:
            return None  # unbalanced (e.g. truncated generation)
        return text[i + 1 : end].strip()
    if i == m.end():  # "\boxedx" is not a box
        return None
    # "\boxed 5" form: up to the end of the math span / line.
    rest = text[i:]
    rest = re.split(r"\$|\\\]|\\\)|\n", rest, maxsplit=1)[0]
    rest = rest.strip().rstrip(".,;")
    return rest or None


def extract_boxed(text: str) -> str | None:
    """Return the content of the last ``\\boxed{...}`` (or ``\\boxed x``,
    ``\\fbox{...}``) in ``text``, handling nested braces.

    If the last box is unbalanced (a truncated generation), the last
    well-formed one before it is returned.  ``None`` when there is none.
    """
    if not text:
        return None
    matches = list(_BOX_RE.finditer(text))
    for m in reversed(matches):
        content = _boxed_at(text, m)
        if content is not None:
            return content
    return None


_FINAL_PATTERNS = [
    re.compile(r"final\s+answer\s*\**\s*(?:is|was|:)\s*:?\s*\**\s*", re.IGNORECASE),
    re.compile(r"answer\s+(?:is|would\s+be|will\s+be)\s*:?\s*\**\s*", re.IGNORECASE),
    re.compile(r"(?:^|\n)\s*\**answer\**\s*:\s*\**\s*", re.IGNORECASE),
]

_MATH_SPAN_RE = re.compile(
    r"\$\$(.+?)\$\$|\$(.+?)\$|\\\[(.+?)\\\]|\\\((.+?)\\\)", re.DOTALL
)


def _first_math_span(s: str) -> str | None:
    m = _MATH_SPAN_RE.search(s)
    if not m:
        return None
    return next(g for g in m.groups() if g is not None).strip()


def _last_math_span(s: str) -> str | None:
    last = None
    for m in _MATH_SPAN_RE.finditer(s):
        g = next(g for g in m.groups() if g is not None).strip()
        if g:
            last = g
    return last


def _clean_phrase_answer(tail: str) -> str | None:
    tail = tail.strip()
    if not tail:
        return None
    if tail.startswith(("$", "\\[", "\\(")):
        span = _first_math_span(tail)
        if span:
            return span
    # Up to the end of the line / sentence ("... is 5. I hope it is correct.")
    line = tail.split("\n", 1)[0]
    line = re.split(r"\.\s+(?=[A-Z])|\.\s*$", line, maxsplit=1)[0]
    line = re.split(r",?\s+(?:because|since|which|as|so|where)\s", line, maxsplit=1)[0]
    span = _first_math_span(line)
    if span:
        return span
    line = line.strip().strip("*").strip().rstrip(".,;:")
    return line or None


def extract_answer(text: str) -> str | None:
    """Extract a final answer from a model output.

    Order: last ``\\boxed{}``; then the last "final answer is X" / "Final
    Answer: X"; then the last "answer is X"; then a line "Answer: X";
    then the last ``$...$`` (or ``\\(...\\)``, ``\\[...\\]``) math span.
    """
    if not text:
        return None
    boxed = extract_boxed(text)
    if boxed:
        return boxed
    for pat in _FINAL_PATTERNS:
        matches = list(pat.finditer(text))
        if matches:
            ans = _clean_phrase_answer(text[matches[-1].end() :])
            if ans:
                return ans
    span = _last_math_span(text)
    if span:
        return span
    return None


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

_UNIT_WORDS = (
    "square units|square inches|square feet|square meters|square centimeters|"
    "square cm|square ft|square miles|sq units|cubic units|cubic inches|"
    "cubic feet|cubic centimeters|cubic meters|"
    "units?|inch(?:es)?|in|feet|foot|ft|yards?|yd|miles?|mi|mph|"
    "meters?|metres?|m|centimeters?|cm|millimeters?|mm|kilometers?|km|"
    "grams?|g|kilograms?|kg|gm|pounds?|lbs?|ounces?|oz|"
    "seconds?|sec|s|minutes?|min|hours?|hrs?|days?|weeks?|months?|years?|"
    "degrees?|dollars?|cents?|points?|ways|people|students|"
    "liters?|litres?|L|ml|mL|gallons?|cups?|"
    "sq|cubic|square|cm\\^2|m\\^2|cm\\^3|m\\^3"
)
# Unit at the very end of an answer, after something that ends in a digit,
# brace, paren or letter-free token; optionally wrapped in \text{}/\mbox{}/
# \mathrm{} and optionally squared/cubed.
_UNIT_TAIL_RE = re.compile(
    r"(?<=[\d}).\s])\s*(?:\\(?:text|textbf|mbox|mathrm|rm)\s*\{\s*(?:"
    + _UNIT_WORDS
    + r")\s*(?:\^\{?[23]\}?)?\s*\}|\s(?:"
    + _UNIT_WORDS
    + r"))\s*(?:\^\{?[23]\}?)?\s*\.?\s*$"
)
_TEXT_WRAP_RE = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|mbox|mathrm|mathbf|rm|bf|"
    r"operatorname|mathit)\s*\{"
)
_SIMPLE_LHS_RE = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?'?$|^\\[A-Za-z]+$")


def _unwrap_command(s: str, pattern: re.Pattern) -> str:
    """Replace ``\\cmd{content}`` by ``content`` for every match of
    ``pattern`` (which must end at the opening brace)."""
    out = []
    pos = 0
    while True:
        m = pattern.search(s, pos)
        if not m:
            out.append(s[pos:])
            break
        brace = m.end() - 1
        end = _match_braces(s, brace)
        if end is None:
            out.append(s[pos:])
            break
        out.append(s[pos : m.start()])
        out.append(s[brace + 1 : end])
        pos = end + 1
    return "".join(out)


_FRAC_SQRT_RE = re.compile(r"\\(frac|sqrt)(?![A-Za-z])")


def _fix_fracs(s: str) -> str:
    r"""``\frac12`` -> ``\frac{1}{2}``, ``\frac1{b}`` -> ``\frac{1}{b}``,
    ``\frac{a}b`` -> ``\frac{a}{b}``; same for ``\sqrt2`` -> ``\sqrt{2}``.
    Works on nested occurrences too (``\frac{\sqrt2}2``)."""

    def brace_arg(t: str, i: int) -> tuple[str, int]:
        """Make sure the argument starting at ``t[i]`` is braced; return the
        new string and the index just past the argument (-1 if none)."""
        if i >= len(t):
            return t, -1
        if t[i] == "{":
            end = _match_braces(t, i)
            return t, (-1 if end is None else end + 1)
        if t[i] == "\\":
            m = re.match(r"\\[A-Za-z]+", t[i:])
            if not m:
                return t, -1
            tok = m.group(0)
        elif t[i] in "}^_":
            return t, -1
        else:
            tok = t[i]
        return t[:i] + "{" + tok + "}" + t[i + len(tok) :], i + len(tok) + 2

    pos = 0
    while True:
        m = _FRAC_SQRT_RE.search(s, pos)
        if not m:
            return s
        j = m.end()
        if m.group(1) == "sqrt":
            mm = re.match(r"\[[^\]]*\]", s[j:])
            if mm:
                j += mm.end()
            s, _ = brace_arg(s, j)
        else:
            s, j2 = brace_arg(s, j)
            if j2 > 0:
                s, _ = brace_arg(s, j2)
        pos = m.end()


def _strip_outer_braces(s: str) -> str:
    while len(s) >= 2 and s[0] == "{" and _match_braces(s, 0) == len(s) - 1:
        s = s[1:-1].strip()
    return s


_REPEATING_RE = re.compile(r"(-?)(\d*)\.(\d*)\\overline\{(\d+)\}")


def _repeating_to_frac(m: re.Match) -> str:
    sign, whole, fixed, rep = m.group(1), m.group(2) or "0", m.group(3), m.group(4)
    # x = whole.fixed(rep)(rep)... = (whole fixed rep - whole fixed) / (10^k(10^r - 1))
    num = int(whole + fixed + rep) - int(whole + fixed)
    den = (10 ** len(rep) - 1) * 10 ** len(fixed)
    f = Fraction(num, den)
    if f.denominator == 1:
        return f"{sign}{f.numerator}"
    return f"{sign}\\frac{{{f.numerator}}}{{{f.denominator}}}"


def _fix_numbers(s: str) -> str:
    # thousands separators: only when the whole answer is one such number
    # ("(1,234)" is a point, "1,2" a list).
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        s = s.replace(",", "")
    # .5 -> 0.5 (not after a digit)
    s = re.sub(r"(?<![\d}])\.(\d)", r"0.\1", s)
    # trailing zeros of decimals: 2.50 -> 2.5 ; 3.0 -> 3 ; 3. -> 3
    s = re.sub(r"(\d+)\.(\d*?)0+(?!\d)", lambda m: m.group(1) + ("." + m.group(2) if m.group(2) else ""), s)
    # leading zeros of integers: 007 -> 7
    s = re.sub(r"(?<![\d.])0+(\d)", r"\1", s)
    # repeating decimals: 0.\overline{3} -> \frac{1}{3}, 1.2\overline{34}
    s = _REPEATING_RE.sub(_repeating_to_frac, s)
    # scientific notation 1.5e3 / 1.5E-3 -> 1.5\times10^{3}
    s = re.sub(
        r"(?<![A-Za-z\d.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![A-Za-z\d])",
        lambda m: f"{m.group(1)}\\times10^{{{int(m.group(2))}}}",
        s,
    )
    return s


@lru_cache(maxsize=4096)
def normalize(ans: str) -> str:
    """Normalise a final answer string for comparison (MATH-style).

    The result is a canonical LaTeX-ish string with no spaces; it is meant for
    equality checks and still parses as LaTeX for the symbolic check.
    """
    if ans is None:
        return ""
    s = str(ans).strip()
    if not s:
        return ""
    # a full solution was passed: take its box
    if _BOX_RE.search(s):
        boxed = extract_boxed(s)
        if boxed is not None:
            s = boxed
    s = s.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    # math delimiters
    s = s.strip()
    for a, b in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if s.startswith(a) and s.endswith(b) and len(s) >= len(a) + len(b):
            s = s[len(a) : len(s) - len(b)].strip()
    s = s.replace("\\$", "").replace("$", "")
    # spacing commands
    s = re.sub(
        r"\\\\|\\[,;:! ]|\\q?quad(?![A-Za-z])|~",
        lambda m: m.group(0) if m.group(0) == "\\\\" else " ",
        s,
    )
    s = s.replace("{,}", "")
    s = re.sub(r"\\(?:displaystyle|textstyle|scriptstyle)(?![A-Za-z])", "", s)
    s = re.sub(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big|biggl|biggr)(?![A-Za-z])\s*\.?", "", s)
    s = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", s)
    s = re.sub(r"\\cfrac(?![A-Za-z])", r"\\frac", s)
    # degrees
    s = re.sub(
        r"(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ(?![A-Za-z])|°|\\degree(?![A-Za-z]))"
        r"\s*(?:\\(?:text|mathrm)\{\s*[CF]\s*\}|[CF](?![A-Za-z]))?",
        "",
        s,
    )
    s = re.sub(r"\^\s*\{\s*\\text\{\s*o\s*\}\s*\}", "", s)
    # percent
    s = re.sub(r"\\%|%|\\text\{\s*percent\s*\}|\s+percent$", "", s)
    s = s.strip()
    # trailing sentence punctuation
    s = s.rstrip(" .")
    # units at the end (repeat: "5 \text{ sq } \text{units}")
    for _ in range(3):
        new = _UNIT_TAIL_RE.sub("", s).strip()
        if new == s or not new:
            break
        s = new
    s = re.sub(r"\\text\{\s*\}", "", s)
    s = re.sub(r"\\mathrm\{th\}|\^\{?\\text\{(?:th|st|nd|rd)\}\}?", "", s)
    # "1 \text{ and } 2" / "1 and 2" -> "1, 2"
    s = re.sub(r"\s*\\(?:text|mbox|mathrm)\{\s*and\s*\}\s*|\s+and\s+", ", ", s)
    # text wrappers
    s = _unwrap_command(s, _TEXT_WRAP_RE)
    s = s.replace("\\emptyset", "\\varnothing")
    s = re.sub(r"\\le(?![A-Za-z])", r"\\leq", s)
    s = re.sub(r"\\ge(?![A-Za-z])", r"\\geq", s)
    s = re.sub(r"\\ne(?![A-Za-z])", r"\\neq", s)
    s = s.replace("\\dots", "\\ldots").replace("\\cdots", "\\ldots")
    # simple assignment "x = 3" -> "3"  (also "k=3" but not "x+y=3")
    if s.count("=") == 1 and "\\leq" not in s and "\\geq" not in s:
        lhs, rhs = (p.strip() for p in s.split("="))
        if rhs and _SIMPLE_LHS_RE.match(lhs) and "," not in rhs:
            s = rhs
    # remove all spaces (safe now: thousands separators handled, and commands
    # followed by a letter are protected below)
    s = re.sub(r"(\\[A-Za-z]+)\s+(?=[A-Za-z])", "\\1\x00", s)
    s = s.replace(" ", "").replace("\x00", " ")
    s = _fix_numbers(s)
    s = _fix_fracs(s)
    # x^{2} -> x^2, a_{1} -> a_1
    s = re.sub(r"([\^_])\{(\w)\}", r"\1\2", s)
    # a/b with plain integers -> \frac{a}{b}
    m = re.fullmatch(r"(-?)(\d+)/(\d+)", s)
    if m:
        s = f"{m.group(1)}\\frac{{{m.group(2)}}}{{{m.group(3)}}}"
    s = _strip_outer_braces(s)
    # multiple-choice letter: "(C)" -> "C"; "(D)7" (letter then its value) -> "D"
    m = re.fullmatch(r"\(([A-Z])\)|\(([A-E])\)(?![\^_*/+\-(=]).+", s)
    if m:
        s = m.group(1) or m.group(2)
    # "0.5" when the answer is "\frac{1}{2}" etc. is left to the symbolic check
    if s.startswith("+") and len(s) > 1:
        s = s[1:]
    return s


# ---------------------------------------------------------------------------
# Time limits
# ---------------------------------------------------------------------------


class _Timeout(BaseException):
    """Raised inside a check that ran out of time.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that the many
    ``except Exception`` blocks inside sympy / math-verify cannot swallow it.
    """


_REFIRE_S = 0.05  # re-raise every 50 ms if a bare ``except:`` swallowed it


def _run_with_timeout(fn: Callable[[], T], seconds: float) -> T:
    """Run ``fn()`` and raise ``_Timeout`` if it takes more than ``seconds``.

    Main thread (POSIX): ``SIGALRM`` via ``setitimer``; a timer and handler
    that were already installed (e.g. by pytest-timeout) are put back, with
    the outer timer's remaining time.  Other threads: ``fn`` runs in a daemon
    worker thread; on timeout ``_Timeout`` is raised here and also injected
    into the worker (``PyThreadState_SetAsyncExc``) so it stops at its next
    Python bytecode instead of burning CPU.  Neither mechanism can interrupt a
    single long C call (huge integer powers): see ``_too_expensive``.
    """
    if seconds is None or seconds <= 0:
        return fn()
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and hasattr(signal, "setitimer"):
        state = {"active": True}

        def handler(signum, frame):
            if state["active"]:
                raise _Timeout()

        old_handler = signal.signal(signal.SIGALRM, handler)
        old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds, _REFIRE_S)
        t0 = time.monotonic()
        try:
            return fn()
        finally:
            state["active"] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            if old_delay > 0:  # give back an outer timer (e.g. pytest-timeout)
                remaining = old_delay - (time.monotonic() - t0)
                signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-3), old_interval)

    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001
            box["error"] = e

    worker = threading.Thread(target=target, daemon=True, name="math_equiv-check")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        _async_raise(worker, _Timeout)
        raise _Timeout()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _async_raise(thread: threading.Thread, exc_type: type) -> None:
    try:
        import ctypes

        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type)
        )
    except Exception:  # noqa: BLE001 - best effort (non-CPython)
        pass


# ---------------------------------------------------------------------------
# Symbolic check (math-verify)
# ---------------------------------------------------------------------------

try:  # pragma: no cover - import guard
    import math_verify as _mv
    from math_verify import LatexExtractionConfig as _LatexCfg
    from math_verify import ExprExtractionConfig as _ExprCfg

    _mv.parser.TIMEOUT_WARNING_SHOWN = True  # we do the timing ourselves
    _mv.grader.TIMEOUT_WARNING_SHOWN = True
    SYMBOLIC_BACKEND_AVAILABLE = True
except Exception:  # pragma: no cover
    _mv = None
    SYMBOLIC_BACKEND_AVAILABLE = False

_MAX_SYMBOLIC_LEN = 1000


def _too_expensive(s: str) -> bool:
    """Refuse inputs whose evaluation could hang inside C big-int code."""
    if len(s) > _MAX_SYMBOLIC_LEN:
        return True
    # power towers a^{b^{c}} / a^b^c
    if re.search(r"\^\s*\{[^{}]*\^", s) or re.search(r"\^\s*\{[^}]*\{[^}]*\^", s):
        return True
    if re.search(r"\^\s*\(?\s*[\w.]+\s*\)?\s*\^", s) or "**" in s:
        return True
    # big exponents: ^{12345} or ^12345... (more than 4 digits)
    for m in re.finditer(r"\^\s*\{?\s*-?\s*(\d+)", s):
        if len(m.group(1)) > 4:
            return True
    # factorials of numbers >= 1000, or of bracketed expressions with powers
    if re.search(r"\d{4,}\s*\)?\s*!", s):
        return True
    if "^" in s and re.search(r"[)}\]]\s*!", s):
        return True
    # very long digit strings
    if re.search(r"\d{200,}", s):
        return True
    return False


def _mv_parse(s: str):
    return _mv.parse(
        "$" + s + "$",
        extraction_config=[_LatexCfg(), _ExprCfg()],
        parsing_timeout=None,
    )


def _mv_compare(pred: str, gold: str) -> bool:
    g = _mv_parse(gold)
    p = _mv_parse(pred)
    if not g or not p:
        return False
    return bool(_mv.verify(g, p, timeout_seconds=None))


def symbolic_equiv(pred: str, gold: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Time-bounded math-verify comparison of two answer strings.

    Returns False when math-verify is not installed, the input looks too
    expensive to evaluate, parsing fails, or the time limit is exceeded.
    """
    if _mv is None or not pred or not gold:
        return False
    if _too_expensive(pred) or _too_expensive(gold):
        return False
    try:
        return bool(_run_with_timeout(lambda: _mv_compare(pred, gold), timeout))
    except _Timeout:
        logger.debug("symbolic check timed out: %r vs %r", pred, gold)
        return False
    except RecursionError:
        return False
    except Exception:  # noqa: BLE001 - parser/sympy errors mean "not shown equal"
        logger.debug("symbolic check failed: %r vs %r", pred, gold, exc_info=True)
        return False


# ---------------------------------------------------------------------------
# Equivalence
# ---------------------------------------------------------------------------

# Words of 4+ letters are text answers ("Monday", "even"), compared as
# strings; shorter letter strings ("ab", "x") may be products of variables.
_TEXTY_RE = re.compile(r"^[A-Za-z]{4,}$")


def _split_top_level(s: str) -> list[str]:
    parts, depth, cur = [], 0, []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i : i + 2])
            i += 2
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def is_equiv(pred: str | None, gold: str | None, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True if ``pred`` and ``gold`` are the same final answer.

    Normalised string equality first (see module docstring for the policy),
    then a symbolic check with math-verify, tried on the normalised strings
    and, failing that, on the raw strings; ``timeout`` seconds bound both
    symbolic attempts together.
    """
    if pred is None or gold is None:
        return False
    pred, gold = str(pred).strip(), str(gold).strip()
    if not pred or not gold:
        return False
    if pred == gold:
        return True
    np_, ng = normalize(pred), normalize(gold)
    if not np_ or not ng:
        return False
    if np_ == ng:
        return True
    if _TEXTY_RE.match(np_) and _TEXTY_RE.match(ng):
        # plain words / choice letters: case-insensitive, no symbolic check
        # (math-verify would parse "Monday" as a product of symbols)
        return np_.lower() == ng.lower()
    # a set \{...\} is never a tuple / interval / point
    if _is_set(np_) != _is_set(ng) and (_is_set(np_) or _is_set(ng)):
        other = ng if _is_set(np_) else np_
        if other[:1] in "([":
            return False
    # bare comma lists (unordered solutions) compared element-wise
    pp, gp = _split_top_level(np_), _split_top_level(ng)
    if len(pp) > 1 and len(pp) == len(gp) and not _is_bracketed(np_) and not _is_bracketed(ng):
        if sorted(pp) == sorted(gp):
            return True
    deadline = time.monotonic() + timeout
    if symbolic_equiv(np_, ng, timeout):
        return True
    left = deadline - time.monotonic()
    if (np_, ng) != (pred, gold) and left > 0.05 and symbolic_equiv(pred, gold, left):
        return True
    return False


def _is_set(s: str) -> bool:
    return s.startswith("\\{") and s.endswith("\\}")


def _is_bracketed(s: str) -> bool:
    return bool(s) and s[0] in "([{" or s.startswith("\\{") or s.startswith("\\begin")


def score_math(prediction: str, gold_solution: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Score a model output against a MATH reference solution.

    The gold answer is the last ``\\boxed{}`` of ``gold_solution`` (the whole
    string if it has none, i.e. a bare answer was given); the predicted answer
    comes from :func:`extract_answer`.
    """
    gold = extract_boxed(gold_solution or "")
    if gold is None:
        gold = (gold_solution or "").strip()
    pred = extract_answer(prediction or "")
    if pred is None or not gold:
        return False
    return is_equiv(pred, gold, timeout=timeout)
