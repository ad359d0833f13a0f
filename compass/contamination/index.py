"""The corpus index on disk, and its lookups. ``index_build.py`` writes it.

Layout of an index directory (raw little-endian arrays; queries read them with ``pread``, through a
sparse fence of every 4096th key, see ``table.py``: memory does not grow with the index)::

    meta.json                   settings, corpus files (size, mtime), counts, build time
    docs.refs.u64               per document: source file, offset, length (see corpus.DocRef)
    docs.ids.txt, docs.idoff.u64  per document: its id (a JSON string per line) and that line's offset
    n8.keys.u64, n8.docs.u32    sorted hashes of every 8-gram, and the documents holding it (the first
                                ``docs_per_ngram`` of them, one row each)
    n13.keys.u64, n13.docs.u32  the same for 13-grams
    <table>.fence.u64           every 4096th key of the table
    lsh.keys.u64, lsh.docs.u32  sorted MinHash band keys of every passage, and its document (at
                                most ``max_docs_per_key`` documents per key)
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from compass.contamination import corpus
from compass.contamination.normalize import NORMALIZATION_VERSION
from compass.contamination.table import SortedTable
from compass.errors import CompassError

INDEX_VERSION = 2


@dataclass(frozen=True)
class IndexSettings:
    ngram_sizes: tuple[int, ...] = (8, 13)
    near_duplicates: bool = True  # also the MinHash/LSH table
    docs_per_ngram: int = 4  # documents kept per n-gram (the first ones holding it), to find the right copy
    max_docs_per_key: int = 8  # LSH buckets keep this many documents (boilerplate passages share keys)


@dataclass(frozen=True)
class IndexMeta:
    settings: IndexSettings
    sources: list[corpus.SourceFile]
    docs: int = 0
    tokens: int = 0
    build_s: float = 0.0
    workers: int = 1
    entries: dict[str, int] = field(default_factory=dict)  # rows of each table
    index_version: int = INDEX_VERSION
    normalization_version: int = NORMALIZATION_VERSION

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict, where: str) -> IndexMeta:
        try:
            settings = IndexSettings(**{**obj["settings"], "ngram_sizes": tuple(obj["settings"]["ngram_sizes"])})
            sources = [corpus.SourceFile(**s) for s in obj["sources"]]
            rest = {k: v for k, v in obj.items() if k not in ("settings", "sources")}
            return cls(settings, sources, **rest)
        except (KeyError, TypeError) as exc:
            raise CompassError(f"{where}: not a contamination index meta file ({exc})") from None


class CorpusIndex:
    """A built index, opened for queries."""

    def __init__(self, root: Path):
        self.root = root
        meta_path = root / "meta.json"
        if not meta_path.is_file():
            raise CompassError(f"{root}: no contamination index here (meta.json missing; it is written last, so a "
                               f"build that stopped early leaves none)")
        try:
            raw = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CompassError(f"{meta_path}: damaged ({exc}); rebuild the index") from None
        for key, want in (("index_version", INDEX_VERSION), ("normalization_version", NORMALIZATION_VERSION)):
            if raw.get(key) != want:
                raise CompassError(f"{meta_path}: {key} {raw.get(key)!r}, this compass reads {want}: rebuild the index")
        self.meta = IndexMeta.from_json(raw, str(meta_path))

    @cached_property
    def _tables(self) -> dict[str, SortedTable]:
        return {name: SortedTable(self.root, name, self.meta.entries.get(name, -1))
                for name in table_names(self.meta.settings)}

    def has(self, table: str) -> bool:
        return (table == "lsh" and self.meta.settings.near_duplicates) or \
            (table.startswith("n") and int(table[1:]) in self.meta.settings.ngram_sizes)

    def lookup(self, table: str, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each key, the rows [lo, hi) holding it (hi == lo: not in the corpus); ``docs(table, lo, hi)``."""
        return self._tables[table].lookup(keys)

    def docs(self, table: str, lo: int, hi: int) -> list[int]:
        return self._tables[table].docs(lo, hi)

    def lookup_all(self, table: str, keys: np.ndarray) -> list[list[int]]:
        """For each key, every document stored under it."""
        lo, hi = self.lookup(table, keys)
        return [self.docs(table, a, b) for a, b in zip(lo.tolist(), hi.tolist())]

    def _rows(self, name: str, dtype, width: int, docs: list[int]) -> dict[int, np.ndarray]:
        path = self.root / name
        if not path.is_file() or path.stat().st_size != width * np.dtype(dtype).itemsize * self.meta.docs:
            raise CompassError(f"{path}: missing or damaged; rebuild the index")
        item = width * np.dtype(dtype).itemsize
        with path.open("rb") as f:
            return {d: np.frombuffer(os.pread(f.fileno(), item, d * item), dtype=dtype) for d in set(docs)}

    def doc_ids(self, docs: list[int]) -> dict[int, str]:
        offsets = self._rows("docs.idoff.u64", np.uint64, 1, docs)
        out = {}
        with (self.root / "docs.ids.txt").open("rb") as f:
            for d in sorted(set(docs)):
                f.seek(int(offsets[d][0]))
                out[d] = json.loads(f.readline())
        return out

    def doc_texts(self, docs: list[int]) -> dict[int, str]:
        """The text of each document, re-read from the corpus files (refused if they changed)."""
        refs = {d: corpus.DocRef(*(int(x) for x in row)) for d, row in self._rows("docs.refs.u64", np.uint64, 3, docs).items()}
        texts = corpus.fetch(self.meta.sources, list(refs.values()))
        return {d: texts[ref] for d, ref in refs.items()}


def table_names(settings: IndexSettings) -> list[str]:
    return [f"n{n}" for n in settings.ngram_sizes] + (["lsh"] if settings.near_duplicates else [])
