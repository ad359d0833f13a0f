"""Values passed between pipeline stages."""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import asdict, dataclass, field


@dataclass
class Doc:
    id: str
    text: str
    source: str
    lang: str = "en"
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass
class StageReport:
    """What a stage did: docs in/out, why each dropped doc went, and other counters (e.g. masks)."""
    stage: str
    n_in: int = 0
    n_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    counters: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def drop(self, reason: str, n: int = 1):
        self.dropped[reason] += n

    def to_json(self) -> dict:
        return {"stage": self.stage, "n_in": self.n_in, "n_out": self.n_out,
                "n_dropped": sum(self.dropped.values()), "dropped": dict(sorted(self.dropped.items())),
                "counters": dict(sorted(self.counters.items())), "seconds": round(self.seconds, 3)}


@dataclass
class StageResult:
    kept: list[Doc]
    report: StageReport
    rejected: list[tuple[Doc, str]] = field(default_factory=list)  # (doc, reason), kept for inspection
