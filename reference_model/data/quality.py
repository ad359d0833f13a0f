"""Quality stage: a per-source heuristic score in [0, 1] and a per-source keep threshold.

Scores are averages of soft feature checks, cheap and explainable; the score is stored in
``meta["quality"]`` so that thresholds can be tuned later from the kept corpus.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace

from .records import Doc, StageReport, StageResult

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
STOPWORDS = frozenset(["the", "of", "and", "to", "a", "in", "is", "it", "that", "for", "on", "with", "as", "are", "was",
                       "be", "by", "this", "an", "or", "from", "at"])


def _band(x: float, lo: float, hi: float, soft: float) -> float:
    """1 inside [lo, hi], falling linearly to 0 over ``soft`` outside it."""
    if lo <= x <= hi:
        return 1.0
    d = lo - x if x < lo else x - hi
    return max(0.0, 1 - d / soft)


def prose_score(text: str) -> float:
    tokens = text.split()
    if not tokens:
        return 0.0
    words = _WORD.findall(text.lower())
    alpha = sum(bool(_WORD.fullmatch(t.strip(".,;:!?()\"'").lower())) for t in tokens) / len(tokens)
    mean_len = sum(map(len, words)) / max(len(words), 1)
    stop = sum(w in STOPWORDS for w in words) / max(len(words), 1)
    lines = [ln for ln in text.split("\n") if ln.strip()]
    ends = sum(ln.rstrip()[-1] in ".!?:\"')" for ln in lines) / max(len(lines), 1)
    feats = [_band(alpha, 0.6, 1.0, 0.4), _band(mean_len, 3, 9, 3), _band(stop, 0.05, 0.6, 0.05),
             _band(ends, 0.3, 1.0, 0.3)]
    return sum(feats) / len(feats)


def code_score(text: str) -> float:
    lines = text.split("\n")
    nonblank = [ln for ln in lines if ln.strip()] or [""]
    long_lines = sum(len(ln) > 120 for ln in lines) / len(lines)
    commented = sum(ln.lstrip().startswith(("#", '"""', "'''")) for ln in nonblank) / len(nonblank)
    alpha = sum(ch.isalpha() for ch in text) / max(len(text), 1)
    feats = [_band(long_lines, 0, 0.05, 0.2), _band(commented, 0.05, 0.8, 0.05), _band(alpha, 0.4, 0.9, 0.3)]
    return sum(feats) / len(feats)


SCORERS = {"prose": prose_score, "code": code_score, "none": lambda text: 1.0}


@dataclass
class QualityConfig:
    threshold: float = 0.5
    per_source_threshold: dict = field(default_factory=dict)  # {source: threshold}
    scorer: dict = field(default_factory=dict)                # {source: prose|code|none}; default by lang

    def scorer_for(self, doc: Doc) -> str:
        return self.scorer.get(doc.source, "code" if doc.lang == "code" else "prose")


def quality(docs: list[Doc], cfg: QualityConfig) -> StageResult:
    t0 = time.perf_counter()
    report = StageReport("quality", n_in=len(docs))
    kept, rejected = [], []
    for doc in docs:
        name = cfg.scorer_for(doc)
        score = round(SCORERS[name](doc.text), 4)
        threshold = cfg.per_source_threshold.get(doc.source, cfg.threshold)
        doc = replace(doc, meta={**doc.meta, "quality": score})
        if score < threshold:
            report.drop(f"low_quality:{doc.source}")
            rejected.append((doc, f"low_quality:{score}<{threshold}"))
            continue
        report.counters[f"scorer:{name}"] += 1
        kept.append(doc)
    report.n_out, report.seconds = len(kept), time.perf_counter() - t0
    return StageResult(kept, report, rejected)
