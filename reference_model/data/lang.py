"""A cheap script-based language guess; enough to route per-language rules, not a classifier."""
from __future__ import annotations


def guess_lang(text: str, default: str = "en") -> str:
    sample = text[:2000]
    if not sample:
        return "unknown"
    cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in sample)
    if cjk / len(sample) > 0.2:
        return "zh"
    ascii_letters = sum(ch.isascii() and ch.isalpha() for ch in sample)
    letters = sum(ch.isalpha() for ch in sample) or 1
    return default if ascii_letters / letters > 0.8 else "unknown"
