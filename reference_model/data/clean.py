"""Rule-based cleaning (Gopher / C4 style): normalise text, then drop documents that fail a rule.

Rules run in a fixed order and the first failing rule is the drop reason, so counts add up.
"""
from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace

from .records import Doc, StageReport, StageResult

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Typical UTF-8-read-as-Latin-1 sequences ("Ã©", "â€™", ...) plus the replacement character.
_MOJIBAKE = re.compile(r"[ÃÂ][\x80-\xbf\u00a0-\u00bf]|â€[\x80-\xbf\u2018-\u203a™œ]|\ufffd")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class CleanConfig:
    min_chars: int = 20
    max_chars: int = 200_000
    min_words: int = 3
    max_symbol_ratio: float = 0.25      # share of chars that are neither alnum nor whitespace nor common punct.
    max_digit_ratio: float = 0.35
    max_dup_line_ratio: float = 0.3     # share of non-empty lines that repeat an earlier line
    max_top_ngram_ratio: float = 0.3    # share of word chars covered by the most frequent word 3-gram
    top_ngram_n: int = 3
    max_broken_ratio: float = 0.001     # mojibake / replacement characters per char
    per_source: dict = field(default_factory=dict)  # {source: {key: value}} overrides

    def for_source(self, source: str) -> CleanConfig:
        return replace(self, **self.per_source[source]) if source in self.per_source else self


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [ln.rstrip() for ln in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _symbol_ratio(text: str) -> float:
    n = sum(1 for ch in text if not (ch.isalnum() or ch.isspace() or ch in ".,;:!?'\"()-"))
    return n / max(len(text), 1)


def _dup_line_ratio(text: str) -> float:
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    return 1 - len(set(lines)) / len(lines) if lines else 0.0


def _top_ngram_ratio(words: list[str], n: int) -> float:
    if len(words) < n + 2:
        return 0.0
    grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    gram, count = grams.most_common(1)[0]
    if count < 2:
        return 0.0
    total = sum(len(w) for w in words)
    return count * sum(len(w) for w in gram) / max(total, 1)


def check(text: str, cfg: CleanConfig) -> str | None:
    """The first rule ``text`` breaks, or None."""
    if len(text) < cfg.min_chars:
        return "too_short_chars"
    if len(text) > cfg.max_chars:
        return "too_long_chars"
    if len(_MOJIBAKE.findall(text)) / len(text) > cfg.max_broken_ratio:
        return "broken_encoding"
    words = _WORD.findall(text.lower())
    if len(words) < cfg.min_words:
        return "too_few_words"
    if _symbol_ratio(text) > cfg.max_symbol_ratio:
        return "symbol_ratio"
    if sum(ch.isdigit() for ch in text) / len(text) > cfg.max_digit_ratio:
        return "digit_ratio"
    if _dup_line_ratio(text) > cfg.max_dup_line_ratio:
        return "repeated_lines"
    if _top_ngram_ratio(words, cfg.top_ngram_n) > cfg.max_top_ngram_ratio:
        return "repeated_ngrams"
    return None


def clean(docs: list[Doc], cfg: CleanConfig) -> StageResult:
    t0 = time.perf_counter()
    report = StageReport("clean", n_in=len(docs))
    kept, rejected = [], []
    for doc in docs:
        text = normalise(doc.text)
        reason = check(text, cfg.for_source(doc.source))
        if reason:
            report.drop(reason)
            rejected.append((doc, reason))
            continue
        if text != doc.text:
            report.counters["normalised"] += 1
        kept.append(replace(doc, text=text))
    report.n_out, report.seconds = len(kept), time.perf_counter() - t0
    return StageResult(kept, report, rejected)
