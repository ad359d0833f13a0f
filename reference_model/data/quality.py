"""Quality stage: a per-document score in [0, 1] with its reasons, and a per-source keep threshold.

The score comes from published heuristic rules (``quality_rules.py``: Gopher quality and repetition
filters, C4 line rules, a word-order rule, code-shape rules), picked per source (``prose``,
``code`` or ``none``; by default ``code`` for documents whose language is ``code``). Score and
reasons go into ``meta["quality"]`` / ``meta["quality_reasons"]`` and the manifest, so thresholds
can be tuned from the kept corpus. Measured on a labelled set (``quality_set.py``): see
docs/reference_model.md.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal

from compass.errors import CompassError

from .quality_rules import evaluate
from .records import Doc, StageReport, StageResult

Scorer = Literal["prose", "code", "none"]


def score(text: str, scorer: str) -> tuple[float, list[str]]:
    return (1.0, []) if scorer == "none" else evaluate(text, scorer)


@dataclass
class QualityConfig:
    threshold: float = 0.5
    per_source_threshold: dict[str, float] = field(default_factory=dict)  # {source: threshold}
    scorer: dict[str, Scorer] = field(default_factory=dict)               # {source: prose|code|none}; default by lang

    def validate(self, where: str = "quality") -> None:
        for key, value in [("threshold", self.threshold),
                           *((f"per_source_threshold.{k}", v) for k, v in self.per_source_threshold.items())]:
            if not 0 <= value <= 1:
                raise CompassError(f"{where}.{key}: must be in [0, 1], got {value}")

    def scorer_for(self, doc: Doc) -> str:
        return self.scorer.get(doc.source, "code" if doc.lang == "code" else "prose")


def quality(docs: list[Doc], cfg: QualityConfig) -> StageResult:
    t0 = time.perf_counter()
    report = StageReport("quality", n_in=len(docs))
    kept, rejected = [], []
    for doc in docs:
        name = cfg.scorer_for(doc)
        value, reasons = score(doc.text, name)
        value = round(value, 4)
        threshold = cfg.per_source_threshold.get(doc.source, cfg.threshold)
        doc = replace(doc, meta={**doc.meta, "quality": value, "quality_reasons": reasons})
        for reason in reasons:
            report.counters[f"reason:{reason.split('=')[0]}"] += 1
        if value < threshold:
            report.drop(f"low_quality:{doc.source}")
            rejected.append((doc, f"low_quality:{value}<{threshold}:{','.join(reasons)}"))
            continue
        report.counters[f"scorer:{name}"] += 1
        kept.append(doc)
    report.n_out, report.seconds = len(kept), time.perf_counter() - t0
    return StageResult(kept, report, rejected)
