"""Hendrycks-style string normalisation of a final answer (extended): formatting, units, numbers."""
from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

from compass.evaluators.math.extract import BOX_RE, extract_boxed, match_braces

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
        end = match_braces(s, brace)
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
            end = match_braces(t, i)
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
    while len(s) >= 2 and s[0] == "{" and match_braces(s, 0) == len(s) - 1:
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
    if BOX_RE.search(s):
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


