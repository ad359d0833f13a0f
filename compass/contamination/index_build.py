"""Build the corpus index: stream the corpus once, in parallel, in memory bounded by the chunk size.

The main process reads documents in order and hands chunks of about ``CHUNK_BYTES`` of text to
worker processes (at most two chunks per worker in flight, so reading never runs ahead of the
workers). A worker tokenises its chunk, hashes every n-gram and every passage's MinHash band keys,
sorts them and writes them as a sorted run file. Then each table's runs are merged range by range
of the hash space (``MERGE_ENTRIES`` rows at a time, read with plain file reads rather than memory
maps so resident memory stays bounded), keeping for each key the first documents that hold it.
``meta.json`` is written last: a directory without it is not an index.
"""
from __future__ import annotations

import json
import logging
import math
import multiprocessing
import shutil
import time
from collections import deque
from pathlib import Path

import numpy as np

from compass.contamination import corpus, minhash
from compass.contamination.hashing import TokenHasher, ngram_hashes
from compass.contamination.index import CorpusIndex, IndexMeta, IndexSettings, table_names
from compass.contamination.normalize import paragraph_tokens
from compass.contamination.table import fence_of
from compass.errors import CompassError

log = logging.getLogger(__name__)
CHUNK_BYTES = 4 << 20
MERGE_ENTRIES = 4 << 20
_HASHER = TokenHasher()  # one per worker process


def _sorted_run(keys: np.ndarray, docs: np.ndarray, distinct_keys: bool) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")  # stable: equal keys stay in document order
    keys, docs = keys[order], docs[order]
    if len(keys):
        first = np.r_[True, keys[1:] != keys[:-1]]
        keep = first if distinct_keys else first | np.r_[True, docs[1:] != docs[:-1]]
        keys, docs = keys[keep], docs[keep]
    return keys, docs


def process_chunk(chunk: int, first_doc: int, texts: list[str], settings: IndexSettings, runs: Path) -> int:
    """Write the sorted runs of one chunk of documents; return its token count."""
    lengths: list[list[int]] = []
    flat: list[str] = []
    for text in texts:
        paras = paragraph_tokens(text)
        lengths.append([len(p) for p in paras])
        for p in paras:
            flat += p
    ids = _HASHER.ids(flat)
    per_doc = np.array([sum(ls) for ls in lengths], dtype=np.int64)
    doc_of = np.repeat(np.arange(first_doc, first_doc + len(texts), dtype=np.uint32), per_doc)
    tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for n in settings.ngram_sizes:
        h = ngram_hashes(ids, n)
        inside = doc_of[:len(h)] == doc_of[n - 1:]  # no n-gram spans two documents
        tables[f"n{n}"] = _sorted_run(h[inside], doc_of[:len(h)][inside], distinct_keys=settings.docs_per_ngram == 1)
    if settings.near_duplicates:
        starts = np.r_[0, np.cumsum(per_doc)[:-1]]
        spans, span_doc = [], []
        for d, (start, ls) in enumerate(zip(starts, lengths)):
            for lo, hi in minhash.passages(ls):
                spans.append((int(start) + lo, int(start) + hi))
                span_doc.append(first_doc + d)
        keys = minhash.band_keys(minhash.signatures(ids, spans)) if spans else np.zeros((0, minhash.BANDS), np.uint64)
        tables["lsh"] = _sorted_run(keys.reshape(-1), np.repeat(np.array(span_doc, dtype=np.uint32), minhash.BANDS),
                                    distinct_keys=False)
    for name, (keys, docs) in tables.items():
        keys.tofile(runs / f"{name}.{chunk:06d}.keys.u64")
        docs.tofile(runs / f"{name}.{chunk:06d}.docs.u32")
    return len(flat)


def _merge(runs: list[Path], out: Path, name: str, max_per_key: int) -> int:
    """Merge the sorted runs of one table into ``out/<name>.keys.u64`` and ``.docs.u32``."""
    key_files = [open(p, "rb") for p in runs]  # noqa: SIM115 - closed below
    doc_files = [open(str(p).replace(".keys.u64", ".docs.u32"), "rb") for p in runs]  # noqa: SIM115
    sizes = [p.stat().st_size // 8 for p in runs]
    cursors = [0] * len(runs)
    total = sum(sizes)
    groups = max(1, math.ceil(total / MERGE_ENTRIES))
    written = 0
    fence: list[np.ndarray] = []
    try:
        with open(out / f"{name}.keys.u64", "wb") as fk, open(out / f"{name}.docs.u32", "wb") as fd:
            for g in range(groups):
                upper = None if g == groups - 1 else np.uint64((g + 1) * (2**64 // groups))
                parts_k, parts_d = [], []
                for r, (kf, df) in enumerate(zip(key_files, doc_files)):
                    end = sizes[r] if upper is None else _first_at_least(kf, sizes[r], cursors[r], upper)
                    count = end - cursors[r]
                    kf.seek(cursors[r] * 8)
                    df.seek(cursors[r] * 4)
                    parts_k.append(np.fromfile(kf, dtype=np.uint64, count=count))
                    parts_d.append(np.fromfile(df, dtype=np.uint32, count=count))
                    cursors[r] = end
                keys, docs = np.concatenate(parts_k), np.concatenate(parts_d)
                order = np.argsort(keys, kind="stable")  # runs are in document order: the first doc stays first
                keys, docs = keys[order], docs[order]
                if len(keys):
                    start = np.r_[True, keys[1:] != keys[:-1]]
                    idx = np.arange(len(keys))
                    rank = idx - np.maximum.accumulate(np.where(start, idx, 0))
                    keep = rank < max_per_key
                    keys, docs = keys[keep], docs[keep]
                keys.tofile(fk)
                docs.tofile(fd)
                fence.append(fence_of(keys, written))
                written += len(keys)
    finally:
        for f in key_files + doc_files:
            f.close()
    np.concatenate(fence or [np.zeros(0, np.uint64)]).astype(np.uint64).tofile(out / f"{name}.fence.u64")
    return written


def _first_at_least(f, size: int, lo: int, value: np.uint64) -> int:
    """Binary search in a sorted uint64 file: the first position >= lo holding a key >= value."""
    hi = size
    while lo < hi:
        mid = (lo + hi) // 2
        f.seek(mid * 8)
        if np.fromfile(f, dtype=np.uint64, count=1)[0] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def build_index(paths: list[str], out: Path, settings: IndexSettings | None = None, workers: int = 1,
                progress: bool = False) -> CorpusIndex:
    """Index the corpus files named by ``paths`` into ``out`` (replacing any index there)."""
    from tqdm import tqdm

    settings = settings or IndexSettings()
    sources = corpus.resolve(paths)
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta.json").unlink(missing_ok=True)  # from here on, out is not an index until the end
    runs = out / ".runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir()
    has_gz = any(s.kind == ".jsonl.gz" for s in sources)
    bar = tqdm(total=None if has_gz else sum(s.size for s in sources), unit="B", unit_scale=True,
               desc="contamination index (corpus read)", disable=not progress)
    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(workers) if workers > 1 else None
    pending: deque = deque()
    n_docs = n_tokens = n_chunks = 0
    try:
        with open(out / "docs.refs.u64", "wb") as refs, open(out / "docs.ids.txt", "wb") as ids, \
                open(out / "docs.idoff.u64", "wb") as idoff:
            texts: list[str] = []
            size = first = 0

            def submit() -> None:
                nonlocal n_chunks, n_tokens, texts, size, first
                job = (n_chunks, first, texts, settings, runs)
                if pool is None:
                    n_tokens += process_chunk(*job)
                else:
                    pending.append(pool.apply_async(process_chunk, job))
                    while len(pending) >= 2 * workers:
                        n_tokens += pending.popleft().get()
                n_chunks += 1
                texts, size, first = [], 0, n_docs

            for doc in corpus.iter_docs(sources):
                np.array([doc.ref.source, doc.ref.offset, doc.ref.length], dtype=np.uint64).tofile(refs)
                np.array([ids.tell()], dtype=np.uint64).tofile(idoff)
                ids.write(json.dumps(doc.id, ensure_ascii=False).encode() + b"\n")
                texts.append(doc.text)
                size += len(doc.text)
                n_docs += 1
                bar.update(doc.nbytes)
                if size >= CHUNK_BYTES:
                    submit()
            if texts:
                submit()
            while pending:
                n_tokens += pending.popleft().get()
    finally:
        if pool is not None:
            pool.terminate()
        bar.close()
    if n_docs == 0:
        raise CompassError(f"--corpus: {', '.join(paths)}: no documents found")
    entries = {}
    for name in table_names(settings):
        entries[name] = _merge(sorted(runs.glob(f"{name}.*.keys.u64")), out, name,
                               settings.docs_per_ngram if name.startswith("n") else settings.max_docs_per_key)
    shutil.rmtree(runs)
    meta = IndexMeta(settings, sources, docs=n_docs, tokens=n_tokens, build_s=round(time.perf_counter() - started, 2),
                     workers=workers, entries=entries)
    tmp = out / "meta.json.tmp"
    tmp.write_text(json.dumps(meta.to_json(), indent=1))
    tmp.replace(out / "meta.json")
    log.info("contamination index: %d documents, %d tokens in %.1f s -> %s", n_docs, n_tokens, meta.build_s, out)
    return CorpusIndex(out)
