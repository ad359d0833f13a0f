"""Safety stage: mask PII in place and drop documents that hit a configurable blocklist."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace

from .records import Doc, StageReport, StageResult

# Order matters: API keys and emails first so their digits are not re-read as phone numbers.
PII_PATTERNS: list[tuple[str, str]] = [
    ("api_key", r"\b(?:sk-(?:proj-)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}"
                r"|xox[baprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|hf_[A-Za-z0-9]{30,})"),
    # key=value assignments: only the value (named group "secret") is masked.
    ("api_key", r"(?i)\b(?:api[_-]?key|secret|token|password)[\"']?\s*[:=]\s*[\"']?(?P<secret>[A-Za-z0-9_\-/+]{16,})"),
    ("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    ("ip", r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b"),
    ("ip", r"(?i)\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b"),
    # Phones need a separator structure (or a leading +) so plain numbers in maths text survive.
    ("phone", r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}(?!\w|\.\d)"),
    ("phone", r"(?<![\w.])\+\d{8,14}(?!\w|\.\d)"),
]
MASKS = {"email": "<EMAIL>", "phone": "<PHONE>", "ip": "<IP_ADDRESS>", "api_key": "<API_KEY>"}


@dataclass
class SafetyConfig:
    mask_pii: bool = True
    pii_types: list[str] = field(default_factory=lambda: ["api_key", "email", "ip", "phone"])
    blocklist: list[str] = field(default_factory=list)  # words/phrases; a hit drops the document
    blocklist_file: str = ""                             # one term per line, '#' comments


def _compile(cfg: SafetyConfig):
    pii = [(kind, re.compile(p)) for kind, p in PII_PATTERNS if kind in cfg.pii_types]
    terms = list(cfg.blocklist)
    if cfg.blocklist_file:
        with open(cfg.blocklist_file, encoding="utf-8") as f:
            terms += [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    block = re.compile(r"(?i)\b(?:" + "|".join(re.escape(t) for t in terms) + r")\b") if terms else None
    return pii, block


def mask_pii(text: str, patterns) -> tuple[str, dict[str, int]]:
    counts: dict[str, int] = {}
    for kind, rx in patterns:
        mask = MASKS[kind]
        if "secret" in rx.groupindex:
            def mask_group(m, mask=mask):
                s, e = m.span("secret")
                return m.group(0)[: s - m.start()] + mask + m.group(0)[e - m.start():]
            text, n = rx.subn(mask_group, text)
        else:
            text, n = rx.subn(mask, text)
        if n:
            counts[kind] = counts.get(kind, 0) + n
    return text, counts


def safety(docs: list[Doc], cfg: SafetyConfig) -> StageResult:
    t0 = time.perf_counter()
    report = StageReport("safety", n_in=len(docs))
    pii, block = _compile(cfg)
    kept, rejected = [], []
    for doc in docs:
        if block is not None and (hit := block.search(doc.text)):
            report.drop("blocklist")
            report.counters[f"blocklist:{hit.group(0).lower()}"] += 1
            rejected.append((doc, f"blocklist:{hit.group(0)}"))
            continue
        if cfg.mask_pii:
            text, counts = mask_pii(doc.text, pii)
            for kind, n in counts.items():
                report.counters[f"masked:{kind}"] += n
            if counts:
                report.counters["docs_masked"] += 1
                doc = replace(doc, text=text, meta={**doc.meta, "pii_masked": counts})
        kept.append(doc)
    report.n_out, report.seconds = len(kept), time.perf_counter() - t0
    return StageResult(kept, report, rejected)
