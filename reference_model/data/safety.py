"""Safety stage: mask PII in place (detectors in ``pii.py``) and drop documents that hit a blocklist."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from compass.errors import CompassError

from .pii import KINDS, Kind, mask_pii
from .records import Doc, StageReport, StageResult


@dataclass
class SafetyConfig:
    mask_pii: bool = True
    pii_types: list[Kind] = field(default_factory=lambda: list(KINDS))
    blocklist: list[str] = field(default_factory=list)  # words/phrases; a hit drops the document
    blocklist_file: str = ""                             # one term per line, '#' comments

    def validate(self, where: str = "safety") -> None:
        for i, kind in enumerate(self.pii_types):
            if kind not in KINDS:  # configs made in code skip the type check of ``build``
                raise CompassError(f"{where}.pii_types[{i}]: expected one of {', '.join(KINDS)}, got {kind!r}")
        if self.blocklist_file and not Path(self.blocklist_file).is_file():
            raise CompassError(f"{where}.blocklist_file: {self.blocklist_file} is not a file")


def _blocklist(cfg: SafetyConfig) -> re.Pattern | None:
    terms = list(cfg.blocklist)
    if cfg.blocklist_file:
        with open(cfg.blocklist_file, encoding="utf-8") as f:
            terms += [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    return re.compile(r"(?i)\b(?:" + "|".join(re.escape(t) for t in terms) + r")\b") if terms else None


def safety(docs: list[Doc], cfg: SafetyConfig) -> StageResult:
    t0 = time.perf_counter()
    report = StageReport("safety", n_in=len(docs))
    block = _blocklist(cfg)
    kept, rejected = [], []
    for doc in docs:
        if block is not None and (hit := block.search(doc.text)):
            report.drop("blocklist")
            report.counters[f"blocklist:{hit.group(0).lower()}"] += 1
            rejected.append((doc, f"blocklist:{hit.group(0)}"))
            continue
        if cfg.mask_pii:
            text, counts = mask_pii(doc.text, cfg.pii_types)
            for kind, n in counts.items():
                report.counters[f"masked:{kind}"] += n
            if counts:
                report.counters["docs_masked"] += 1
                doc = replace(doc, text=text, meta={**doc.meta, "pii_masked": counts})
        kept.append(doc)
    report.n_out, report.seconds = len(kept), time.perf_counter() - t0
    return StageResult(kept, report, rejected)
