"""Text normalisation and word tokenisation shared by the corpus index and the benchmark side.

Both sides go through :func:`tokens`, so any rewrite here is symmetric: it can only make a copy
and its source look more alike, never tell apart two texts that were equal. Steps, in order:

1. Unicode NFKC and case folding (full-width forms, ligatures, ``WHAT`` vs ``what``).
2. Thousands separators dropped (``1,000`` -> ``1000``).
3. Numbers written in words become digits: English (``twenty-one`` -> ``21``, ``three hundred and
   five`` -> ``305``) and Chinese numerals (``四十`` -> ``40``, ``一百零五`` -> ``105``).
4. Prompt scaffolding words dropped: ``question``, ``answer``, ``solution``, ``problem`` (copies
   of a benchmark item label its parts in many ways; the labels say nothing about the item).
5. Tokens: every CJK character is one token; elsewhere a token is a run of letters, digits and
   ``_``. Punctuation, whitespace and LaTeX/markdown symbols are not tokens. Single-character
   tokens other than digits and CJK are dropped (option labels ``A.``..``D.``, the article ``a``,
   one-letter variables), because renderings of one item differ in exactly those.

The version below is stored in every index; an index built with another version is refused.
"""
from __future__ import annotations

import re
import unicodedata

NORMALIZATION_VERSION = 1

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]{{2,}}|\d")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*")
_SCAFFOLD = re.compile(r"\b(?:question|answer|solution|problem)s?\b")

_UNIT_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
               "sixteen seventeen eighteen nineteen")
_UNITS = {w: i for i, w in enumerate(_UNIT_WORDS.split())}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}  # noqa: SIM905
_SCALES = {"thousand": 1000, "million": 1000_000}
_NUMBER_WORD = "|".join([*_UNITS, *_TENS, "hundred", *_SCALES])
_NUMBER_RUN = re.compile(rf"\b(?:{_NUMBER_WORD})(?:[\s-]+(?:{_NUMBER_WORD}|and))*\b")

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_RUN = re.compile(f"[{''.join(_ZH_DIGITS)}{''.join(_ZH_UNITS)}万]+")


def normalize(text: str) -> str:
    """Steps 1-4: the text every token is cut from."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _THOUSANDS.sub("", text)
    text = _NUMBER_RUN.sub(lambda m: _english_numbers(re.split(r"[\s-]+", m.group())), text)
    text = _ZH_RUN.sub(lambda m: f" {_chinese_number(m.group())} ", text)
    return _SCAFFOLD.sub(" ", text)


def paragraph_tokens(text: str) -> list[list[str]]:
    """The tokens of each paragraph (blocks between blank lines; empty ones left out). Paragraphs are
    normalised one by one, so a number written in words never runs across a blank line."""
    return [t for t in (_TOKEN.findall(normalize(p)) for p in _PARAGRAPH.split(text)) if t]


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` after normalisation (see the module docstring)."""
    return [tok for para in paragraph_tokens(text) for tok in para]


# -- numbers in words ---------------------------------------------------------------------------
def _below_thousand(words: list[str], i: int) -> tuple[int | None, int]:
    """(value, next index) of a number below 1000 starting at ``words[i]``, or (None, i)."""
    value, j = None, i
    if j < len(words) and words[j] in _UNITS and 0 < _UNITS[words[j]] < 10 and j + 1 < len(words) \
            and words[j + 1] == "hundred":
        value, j = _UNITS[words[j]] * 100, j + 2
        if j + 1 < len(words) and words[j] == "and" and (words[j + 1] in _UNITS or words[j + 1] in _TENS):
            j += 1  # "three hundred and five"
    if j < len(words) and words[j] in _TENS:
        rest = _TENS[words[j]]
        j += 1
        if j < len(words) and words[j] in _UNITS and 0 < _UNITS[words[j]] < 10:
            rest += _UNITS[words[j]]
            j += 1
        return (value or 0) + rest, j
    if j < len(words) and words[j] in _UNITS and (value is None or _UNITS[words[j]] > 0):
        return (value or 0) + _UNITS[words[j]], j + 1
    return value, j if value is not None else i


def _english_numbers(words: list[str]) -> str:
    """A run of number words as digits: several numbers where the words do not form one
    (``two three`` -> ``2 3``); words that start no number (``and``, a bare ``hundred``) kept."""
    out, i = [], 0
    while i < len(words):
        total, j = 0, i
        value, k = _below_thousand(words, j)
        while value is not None:
            if k < len(words) and words[k] in _SCALES:
                total += value * _SCALES[words[k]]
                j = k + 1
                value, k = _below_thousand(words, j)
                if value is None:
                    break
            else:
                total, j = total + value, k
                break
        if j == i:
            out.append(words[i])
            i += 1
        else:
            out.append(str(total))
            i = j
    return " ".join(out)


def _chinese_number(run: str) -> str:
    """A run of Chinese numerals as digits (``四十`` -> ``40``, ``一百零五`` -> ``105``, ``十二`` -> ``12``).
    Runs that are not one well-formed number (``一一``) still map the same way on both sides."""
    total = section = digit = 0
    for ch in run:
        if ch in _ZH_DIGITS:
            digit = _ZH_DIGITS[ch]
        elif ch in _ZH_UNITS:
            section += (digit or 1) * _ZH_UNITS[ch]
            digit = 0
        else:  # 万
            total += (section + digit or 1) * 10000
            section = digit = 0
    return str(total + section + digit)


# -- the inverse, for planting edited copies ---------------------------------------------------
def number_in_words(n: int) -> str:
    """``n`` (0 <= n < 10**9) in English words, as a careful writer would spell it."""
    if n < 20:
        return next(w for w, v in _UNITS.items() if v == n)
    if n < 100:
        tens = next(w for w, v in _TENS.items() if v == n - n % 10)
        return tens if n % 10 == 0 else f"{tens}-{number_in_words(n % 10)}"
    if n < 1000:
        head = f"{number_in_words(n // 100)} hundred"
        return head if n % 100 == 0 else f"{head} and {number_in_words(n % 100)}"
    for word, scale in sorted(_SCALES.items(), key=lambda kv: -kv[1]):
        if n >= scale:
            head = f"{number_in_words(n // scale)} {word}"
            return head if n % scale == 0 else f"{head} {number_in_words(n % scale)}"
    raise ValueError(n)


def number_in_chinese(n: int) -> str:
    """``n`` (0 <= n < 10**8) in Chinese numerals (``40`` -> ``四十``, ``105`` -> ``一百零五``)."""
    digits = "零一二三四五六七八九"
    if n == 0:
        return "零"
    if n >= 10000:
        high, low = divmod(n, 10000)
        return number_in_chinese(high) + "万" + ("" if low == 0 else ("零" if low < 1000 else "") + number_in_chinese(low))
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            out += ("零" if zero and out else "") + ("" if (d == 1 and unit == "十" and not out) else digits[d]) + unit
            zero = False
        elif out:
            zero = True
    return out
