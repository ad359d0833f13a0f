"""Corpus sources: what ``--corpus`` accepts, read as a stream of documents, and re-read by reference.

* ``manifest.json`` of ``refmodel data``: its ``docs.jsonl`` (beside it) holds the final documents.
* ``*.jsonl`` / ``*.jsonl.gz``: one document per line, a JSON object with ``text`` (or ``content``)
  and optionally ``id``; a document without an id is named ``<file>:<line>``.
* ``*.txt``: plain text, read in segments of about 1 MB cut at line ends; each segment is a
  document named ``<file>:<first line>`` (a span that crosses a cut is not matched across it).
* a directory: every such file below it, in name order.

Each document gets a :class:`DocRef` (file, byte offset or line, length) so that the few documents a
check needs can be read again later. Every file's size and modification time are recorded in the
index, and a file that changed since is refused rather than silently misread.
"""
from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from compass.errors import CompassError

SEGMENT_BYTES = 1 << 20
SUFFIXES = (".jsonl", ".jsonl.gz", ".txt")


@dataclass(frozen=True)
class SourceFile:
    path: str  # absolute
    size: int
    mtime_ns: int

    @property
    def kind(self) -> str:
        return next(s for s in SUFFIXES if self.path.endswith(s))

    def check_unchanged(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise CompassError(f"{self.path}: corpus file of the index is gone (rebuild the index)") from None
        if (st.st_size, st.st_mtime_ns) != (self.size, self.mtime_ns):
            raise CompassError(f"{self.path}: corpus file changed since the index was built (rebuild the index)")


@dataclass(frozen=True)
class DocRef:
    source: int  # index into the index's source list
    offset: int  # byte offset of the line or segment; for .gz files, the line number
    length: int  # bytes of the line or segment (0 for .gz)


@dataclass(frozen=True)
class CorpusDoc:
    id: str
    text: str
    ref: DocRef
    nbytes: int  # raw bytes consumed, for progress


def _source(path: Path) -> SourceFile:
    st = path.stat()
    return SourceFile(str(path.resolve()), st.st_size, st.st_mtime_ns)


def _manifest_docs(path: Path) -> Path:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CompassError(f"{path}: not a JSON manifest ({exc})") from None
    if not isinstance(manifest, dict) or "manifest_version" not in manifest:
        raise CompassError(f"{path}: not a refmodel data manifest (no 'manifest_version'); give .jsonl or .txt files")
    docs = path.parent / "docs.jsonl"
    if not docs.is_file():
        raise CompassError(f"{path}: the manifest's documents file {docs.name} is missing beside it")
    return docs


def resolve(paths: list[str]) -> list[SourceFile]:
    """The corpus files named by ``--corpus`` (manifests, files, directories), each once, in order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise CompassError(f"--corpus: {raw}: no such file or directory")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
            if not found:
                raise CompassError(f"--corpus: {raw}: no {', '.join(SUFFIXES)} files in this directory")
            files += found
        elif path.suffix == ".json":
            files.append(_manifest_docs(path))
        elif path.name.endswith(SUFFIXES):
            files.append(path)
        else:
            raise CompassError(f"--corpus: {raw}: expected a manifest.json, {', '.join(SUFFIXES)} files or a directory")
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return [_source(p) for p in unique]


def _jsonl_doc(raw: bytes, where: str, default_id: str) -> tuple[str, str]:
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CompassError(f"{where}: not valid JSON ({getattr(exc, 'msg', exc)})") from None
    if not isinstance(obj, dict):
        raise CompassError(f"{where}: expected a JSON object with a 'text' field, got {type(obj).__name__}")
    text = obj.get("text", obj.get("content"))
    if not isinstance(text, str):
        raise CompassError(f"{where}: field 'text' (or 'content') must be a string")
    return str(obj.get("id", default_id)), text


def iter_docs(sources: list[SourceFile]) -> Iterator[CorpusDoc]:
    """Every document of every source, streamed (memory holds one document or segment at a time)."""
    for i, src in enumerate(sources):
        name = Path(src.path).name
        if src.kind == ".txt":
            yield from _txt_segments(i, src.path, name)
            continue
        opener = gzip.open if src.kind == ".jsonl.gz" else open
        try:
            with opener(src.path, "rb") as f:
                offset = 0
                for lineno, raw in enumerate(f, 1):
                    if raw.strip():
                        doc_id, text = _jsonl_doc(raw, f"{src.path}:{lineno}", f"{name}:{lineno}")
                        ref = DocRef(i, lineno, 0) if src.kind == ".jsonl.gz" else DocRef(i, offset, len(raw))
                        yield CorpusDoc(doc_id, text, ref, len(raw))
                    offset += len(raw)
        except (OSError, EOFError) as exc:
            raise CompassError(f"{src.path}: cannot read ({type(exc).__name__}: {exc})") from None


def _txt_segments(source: int, path: str, name: str) -> Iterator[CorpusDoc]:
    with open(path, "rb") as f:
        parts: list[bytes] = []
        size = start = offset = 0
        first_line = lineno = 1
        for raw in f:
            parts.append(raw)
            size += len(raw)
            offset += len(raw)
            lineno += 1
            if size >= SEGMENT_BYTES:
                yield CorpusDoc(f"{name}:{first_line}", b"".join(parts).decode("utf-8", "replace"),
                                DocRef(source, start, size), size)
                parts, size, start, first_line = [], 0, offset, lineno
        if parts:
            yield CorpusDoc(f"{name}:{first_line}", b"".join(parts).decode("utf-8", "replace"),
                            DocRef(source, start, size), size)


def fetch(sources: list[SourceFile], refs: list[DocRef]) -> dict[DocRef, str]:
    """The text of each referenced document, each file opened once (a .gz file is scanned up to its
    last wanted line). Files that changed since indexing are refused."""
    out: dict[DocRef, str] = {}
    by_source: dict[int, list[DocRef]] = {}
    for ref in set(refs):
        by_source.setdefault(ref.source, []).append(ref)
    for i, wanted in by_source.items():
        src = sources[i]
        src.check_unchanged()
        wanted.sort(key=lambda r: r.offset)
        if src.kind == ".jsonl.gz":
            lines = {r.offset: r for r in wanted}
            with gzip.open(src.path, "rb") as f:
                for lineno, raw in enumerate(f, 1):
                    if lineno in lines:
                        out[lines[lineno]] = _jsonl_doc(raw, f"{src.path}:{lineno}", "")[1]
                    if lineno >= wanted[-1].offset:
                        break
            continue
        with open(src.path, "rb") as f:
            for ref in wanted:
                f.seek(ref.offset)
                raw = f.read(ref.length)
                if src.kind == ".txt":
                    out[ref] = raw.decode("utf-8", "replace")
                else:
                    out[ref] = _jsonl_doc(raw, f"{src.path} at byte {ref.offset}", "")[1]
    return out
