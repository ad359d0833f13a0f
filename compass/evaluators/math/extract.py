"""Final answers out of MATH-style solutions: the last ``\\boxed{}``, else an "answer is" phrase,
else the last ``$...$`` span."""
from __future__ import annotations

import re

BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def match_braces(text: str, start: int) -> int | None:
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
        end = match_braces(text, i)
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
    matches = list(BOX_RE.finditer(text))
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


