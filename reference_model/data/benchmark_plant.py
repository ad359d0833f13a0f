"""Benchmark items planted into the corpus on purpose (``plant`` config section), to demonstrate and
test the contamination checks on the reference model's own corpus.

The items are the test items of an eval config's datasets, read exactly as ``compass contamination``
reads them (``compass.contamination.fields``), and rendered by ``compass.contamination.planting``:
``verbatim`` (the item as a prompt and answer) or ``edited`` (numbers reworded, options shuffled,
case and whitespace changed; at least two edits). Each copy is its own document of source
``plant.source``; it goes through every later stage like any other document, and
``planted.jsonl`` beside the manifest says which copy survived (or which stage dropped it, and why).
(Not to be confused with ``planted.py``: near-duplicate corpora for measuring dedup.)
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from compass.errors import CompassError

from .lang import guess_lang
from .records import Doc


@dataclass
class PlantConfig:
    config: str = ""          # an eval config (.py); empty: nothing is planted
    datasets: list[str] = field(default_factory=list)  # abbrs of its datasets to plant from (empty: all)
    share: float = 0.5        # of each dataset's test items, the share planted (the first ones of a seeded shuffle)
    edited_share: float = 0.5  # of the planted items, the share copied lightly edited (the rest verbatim)
    copies: int = 1           # documents per planted item (each rendered anew; identical ones are exact duplicates)
    seed: int = 0
    source: str = "planted"   # the planted documents' source name (for per_source stage settings)
    keep: bool = True         # exempt the copies from the clean and quality thresholds (see KEEP_CLEAN)

    @property
    def enabled(self) -> bool:
        return bool(self.config)

    def validate(self, where: str = "config.plant") -> None:
        if not self.enabled:
            if self.datasets:
                raise CompassError(f"{where}.config: required to plant datasets {self.datasets} (an eval config file)")
            return
        if not 0 < self.share <= 1:
            raise CompassError(f"{where}.share: must be in (0, 1], got {self.share}")
        if not 0 <= self.edited_share <= 1:
            raise CompassError(f"{where}.edited_share: must be in [0, 1], got {self.edited_share}")
        if self.copies < 1:
            raise CompassError(f"{where}.copies: must be >= 1, got {self.copies}")
        if not self.source:
            raise CompassError(f"{where}.source: must not be empty")
        self.items(where)  # the config, its datasets and their files: all read before any work

    def items(self, where: str = "config.plant") -> dict:
        """``{dataset abbr: [SampleText]}`` of the chosen datasets (test split, as the check reads it)."""
        if getattr(self, "_items", None) is None:
            self._items = self._load(where)
        return self._items

    def _load(self, where: str) -> dict:
        from compass.config import load_config
        from compass.contamination.fields import SKIPPED_TYPES, sample_texts
        from compass.datasets import load

        try:
            cfg = load_config(self.config)
        except CompassError as exc:
            raise CompassError(f"{where}.config: {exc}") from None
        known = [d.abbr for d in cfg.datasets]
        for i, abbr in enumerate(self.datasets):
            if abbr not in known:
                raise CompassError(f"{where}.datasets[{i}]: no dataset {abbr!r} in {self.config} "
                                   f"(it has: {', '.join(known)})")
        out = {}
        for ds in cfg.datasets:
            if (self.datasets and ds.abbr not in self.datasets) or ds.type in SKIPPED_TYPES:
                continue
            try:
                out[ds.abbr] = sample_texts(ds, load(ds).test)
            except CompassError as exc:
                raise CompassError(f"{where}.config: dataset {ds.abbr}: {exc}") from None
        if not out:
            raise CompassError(f"{where}.datasets: no checkable dataset to plant from in {self.config}")
        return out


# With ``keep``, these become the planted source's clean settings and its quality threshold is 0, unless the
# config sets that source's own: a benchmark item (digits, options, code) fails prose rules by design, and
# a demonstration should hold what was asked. Every stage still runs on the copies (normalisation, exact and
# near dedup, PII masking, blocklist, quality scores); ``planted.jsonl`` says which survived.
KEEP_CLEAN = {"min_chars": 1, "min_words": 1, "max_symbol_ratio": 1.0, "max_digit_ratio": 1.0,
              "max_dup_line_ratio": 1.0, "max_top_ngram_ratio": 1.0, "max_broken_ratio": 1.0}


@dataclass(frozen=True)
class PlantedCopy:
    """One planted document: which item, how copied (``planted.jsonl`` adds kept, dropped_at, split)."""
    dataset: str
    sample_id: str
    kind: str  # verbatim | edited
    doc_id: str


def plant_docs(cfg: PlantConfig) -> tuple[list[Doc], list[PlantedCopy]]:
    """The planted documents and what each holds. Per dataset, ``round(share * n)`` items (at least
    one) in a seeded order; the first ``round(edited_share * planted)`` of them are edited copies."""
    from compass.contamination.planting import Filler, edited_copy, render

    rng = random.Random(cfg.seed)
    filler = Filler(cfg.seed, vocabulary=200)  # unused by light edits (paraphrasing only); kept small
    docs: list[Doc] = []
    copies: list[PlantedCopy] = []
    for abbr, items in cfg.items().items():
        order = rng.sample(range(len(items)), len(items))
        chosen = order[:max(1, round(cfg.share * len(items)))]
        n_edited = round(cfg.edited_share * len(chosen))
        for rank, i in enumerate(chosen):
            item, kind = items[i], "edited" if rank < n_edited else "verbatim"
            for k in range(cfg.copies):
                text = edited_copy(item, rng, filler) if kind == "edited" else render(item, rng)
                doc_id = f"{cfg.source}/{abbr}/{item.id}/{k}"
                docs.append(Doc(doc_id, text, cfg.source, guess_lang(text), meta={"planted": {"dataset": abbr, "id": item.id,
                                                                            "kind": kind}}))
                copies.append(PlantedCopy(abbr, item.id, kind, doc_id))
    return docs, copies
