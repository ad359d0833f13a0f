"""Is a predicted final answer the gold one: normalised strings, then a time-bounded symbolic check
(math-verify); lists, sets, tuples and intervals compared by their own rules (see the package doc)."""
from __future__ import annotations

import functools
import logging
import re
import time

from compass.evaluators.math.extract import extract_answer, extract_boxed
from compass.evaluators.math.normalize import normalize
from compass.evaluators.math.timeout import Timeout, run_with_timeout

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0


@functools.cache
def _math_verify():
    """math-verify, imported on first use (it pulls in sympy: about a second at every start of a
    process that only reads datasets), or None when it is not installed."""
    try:
        import math_verify
    except Exception:  # pragma: no cover
        return None
    math_verify.parser.TIMEOUT_WARNING_SHOWN = True  # we do the timing ourselves
    math_verify.grader.TIMEOUT_WARNING_SHOWN = True
    return math_verify


def symbolic_backend_available() -> bool:
    return _math_verify() is not None


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
    mv = _math_verify()
    return mv.parse("$" + s + "$", extraction_config=[mv.LatexExtractionConfig(), mv.ExprExtractionConfig()],
                    parsing_timeout=None)


def _mv_compare(pred: str, gold: str) -> bool:
    g = _mv_parse(gold)
    p = _mv_parse(pred)
    if not g or not p:
        return False
    return bool(_math_verify().verify(g, p, timeout_seconds=None))


def symbolic_equiv(pred: str, gold: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Time-bounded math-verify comparison of two answer strings.

    Returns False when math-verify is not installed, the input looks too
    expensive to evaluate, parsing fails, or the time limit is exceeded.
    """
    if not pred or not gold or _math_verify() is None:
        return False
    if _too_expensive(pred) or _too_expensive(gold):
        return False
    try:
        return bool(run_with_timeout(lambda: _mv_compare(pred, gold), timeout))
    except Timeout:
        logger.debug("symbolic check timed out: %r vs %r", pred, gold)
        return False
    except RecursionError:
        return False
    except Exception:
        logger.debug("symbolic check failed: %r vs %r", pred, gold, exc_info=True)
        return False




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
    return (bool(s) and s[0] in "([{") or s.startswith("\\{") or s.startswith("\\begin")


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
