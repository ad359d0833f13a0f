"""``refmodel data``: run every stage, write per-stage reports and the corpus manifest.

Output directory layout::

    stages/<stage>.json            counts in/out, drop reasons, counters, seconds
    stages/<stage>.rejected.jsonl  one line per dropped doc: id, source, reason
    docs.jsonl                     the final documents (id, text, source, lang, meta)
    tokenizer/                     trained here unless a tokenizer was given
    shards/{train,val}_NNNNN.bin   packed tokens
    manifest.json                  sources, per-stage counts, document hashes, tokenizer, shards
    planted.jsonl                  with ``plant``: each planted benchmark copy, kept or where dropped
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from compass.errors import CompassError

from .. import tokenizer as tok_mod
from .benchmark_plant import KEEP_CLEAN, PlantConfig, PlantedCopy, plant_docs
from .clean import CleanConfig, clean
from .dedup import DedupConfig, dedup
from .pack import PackConfig, pack, split_order
from .quality import QualityConfig, quality
from .records import Doc, StageReport, StageResult
from .safety import SafetyConfig, safety
from .sources import SourceSpec, load_sources

MANIFEST_VERSION = 1


@dataclass
class DataConfig:
    sources: list[SourceSpec] = field(default_factory=lambda: [SourceSpec("synthetic"), SourceSpec("stdlib")])
    clean: CleanConfig = field(default_factory=CleanConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    pack: PackConfig = field(default_factory=PackConfig)
    plant: PlantConfig = field(default_factory=PlantConfig)  # benchmark items planted on purpose (off by default)
    tokenizer: str = ""          # existing HF tokenizer dir; empty: train one on the final docs
    tokenizer_vocab: int = 2048  # target vocab when training one
    write_rejected: bool = True

    def validate(self, where: str = "config") -> None:
        if self.tokenizer and not (Path(self.tokenizer) / "tokenizer.json").is_file():
            raise CompassError(f"{where}.tokenizer: {self.tokenizer} holds no tokenizer.json")


def check_config(cfg: DataConfig, where: str = "config") -> None:
    """Every check ``build`` runs, for configs made in code: bad inputs fail before anything is written."""
    for i, spec in enumerate(cfg.sources):
        spec.validate(f"{where}.sources[{i}]")
    for name in ("clean", "dedup", "safety", "quality", "pack", "plant"):
        check = getattr(getattr(cfg, name), "validate", None)
        if check is not None:
            check(f"{where}.{name}")
    if cfg.plant.enabled and cfg.plant.source in {s.name for s in cfg.sources}:
        raise CompassError(f"{where}.plant.source: {cfg.plant.source!r} is also the name of a source; choose another")
    cfg.validate(where)


def _write_jsonl(path: Path, rows) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _unique_ids(docs: list[Doc]) -> None:
    seen: dict[str, int] = {}
    for d in docs:
        n = seen.get(d.id, 0)
        seen[d.id] = n + 1
        if n:
            d.id = f"{d.id}#{n}"


def run(cfg: DataConfig, out_dir: str | Path, log=print) -> dict:
    check_config(cfg)
    if cfg.plant.enabled and cfg.plant.keep:  # recorded in the manifest's config like any setting
        cfg.clean.per_source.setdefault(cfg.plant.source, dict(KEEP_CLEAN))
        cfg.quality.per_source_threshold.setdefault(cfg.plant.source, 0.0)
    out = Path(out_dir)
    t_start = time.time()
    reports: list[StageReport] = []

    load_report = StageReport("format")
    t0 = time.perf_counter()
    docs = load_sources(cfg.sources, load_report)
    planted: list[PlantedCopy] = []
    if cfg.plant.enabled:  # after the sources, so a document already in them is the one dedup keeps
        extra, planted = plant_docs(cfg.plant)
        docs += extra
        load_report.counters[f"source:{cfg.plant.source}"] += len(extra)
        load_report.n_in = load_report.n_out = len(docs)
        log(f"[plant] {len(extra)} copies of {len({(c.dataset, c.sample_id) for c in planted})} benchmark items")
    _unique_ids(docs)
    load_report.seconds = time.perf_counter() - t0
    reports.append(load_report)
    log(f"[format] {len(docs)} docs from {len(cfg.sources)} source(s)")
    if not docs:  # every file unreadable or every line bad: nothing written, nothing to train on
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(load_report.counters.items()) if k.startswith("skipped")) or "none"
        raise CompassError(f"config.sources: no document could be read (skipped: {skipped})")
    (out / "stages").mkdir(parents=True, exist_ok=True)

    dropped: dict[str, str] = {}  # doc id -> "<stage>: <reason>"

    def record(result: StageResult) -> list[Doc]:
        rep = result.report
        reports.append(rep)
        if planted:
            dropped.update((d.id, f"{rep.stage}: {r}") for d, r in result.rejected)
        (out / "stages" / f"{rep.stage}.json").write_text(json.dumps(rep.to_json(), indent=2))
        if cfg.write_rejected:
            _write_jsonl(out / "stages" / f"{rep.stage}.rejected.jsonl",
                         ({"id": d.id, "source": d.source, "reason": r} for d, r in result.rejected))
        log(f"[{rep.stage}] {rep.n_in} -> {rep.n_out}  dropped {dict(rep.dropped)}")
        if not result.kept:  # an empty corpus is never the intended result of a data run
            raise CompassError(f"config.{rep.stage}: the {rep.stage} stage dropped every document "
                               f"({dict(rep.dropped)}; see {out / 'stages' / (rep.stage + '.rejected.jsonl')})")
        return result.kept

    (out / "stages" / "format.json").write_text(json.dumps(load_report.to_json(), indent=2))
    docs = record(clean(docs, cfg.clean))
    docs = record(dedup(docs, cfg.dedup))
    docs = record(safety(docs, cfg.safety))
    docs = record(quality(docs, cfg.quality))
    _write_jsonl(out / "docs.jsonl", (d.to_json() for d in docs))

    tok_dir = Path(cfg.tokenizer) if cfg.tokenizer else out / "tokenizer"
    if not cfg.tokenizer:
        tok_mod.train_tokenizer((d.text for d in docs), tok_dir, tok_mod.TokenizerConfig(vocab_size=cfg.tokenizer_vocab))
        log(f"[tokenizer] trained -> {tok_dir}")
    tokenizer = tok_mod.load(tok_dir)
    shards, doc_tokens, pack_report = pack(docs, tokenizer, out / "shards", cfg.pack)
    reports.append(pack_report)
    (out / "stages" / "pack.json").write_text(json.dumps(pack_report.to_json(), indent=2))
    log(f"[pack] {pack_report.counters['train_tokens']} train / {pack_report.counters['val_tokens']} val tokens "
        f"in {len(shards)} shard(s)")

    planted_summary = _planted_report(planted, dropped, docs, cfg.pack, out) if planted else None
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "created_unix": int(t_start),
        "seconds": round(time.time() - t_start, 2),
        "config": asdict(cfg),
        "sources": [{"name": s.name, "type": s.type, "path": s.path,
                     "n_docs": load_report.counters.get(f"source:{s.name}", 0)} for s in cfg.sources],
        "stages": [r.to_json() for r in reports],
        "tokenizer": {"path": str(tok_dir.resolve()), "sha256": tok_mod.fingerprint(tok_dir),
                      "vocab_size": tokenizer.get_vocab_size()},
        "shards": [asdict(s) for s in shards],
        "totals": {"docs": len(docs), "tokens": sum(s.n_tokens for s in shards),
                   "train_tokens": sum(s.n_tokens for s in shards if s.split == "train"),
                   "val_tokens": sum(s.n_tokens for s in shards if s.split == "val")},
        # Contamination checks hash benchmark items the same way and look them up here.
        "documents": [{"id": d.id, "source": d.source, "sha256": d.sha256, "n_tokens": doc_tokens.get(d.id, 0),
                       "quality": d.meta.get("quality"), "quality_reasons": d.meta.get("quality_reasons", [])}
                      for d in docs],
    }
    if planted_summary is not None:
        manifest["planted"] = planted_summary
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(out / "manifest.json")
    return manifest


def _planted_report(planted: list[PlantedCopy], dropped: dict[str, str], docs: list[Doc], pack_cfg: PackConfig,
                    out: Path) -> dict:
    """Write ``planted.jsonl`` (every planted copy: kept, or the stage and reason that dropped it; the
    split it was packed into) and return the manifest's ``planted`` summary."""
    split = {docs[i].id: name for name, idx in split_order(len(docs), pack_cfg).items() for i in idx}
    rows = [{**asdict(c), "kept": c.doc_id in split, "dropped_at": dropped.get(c.doc_id, ""),
             "split": split.get(c.doc_id, "")} for c in planted]
    _write_jsonl(out / "planted.jsonl", rows)
    summary: dict = {"file": "planted.jsonl", "copies": len(rows), "kept": sum(r["kept"] for r in rows),
                     "in_train": sum(r["split"] == "train" for r in rows), "datasets": {}}
    for r in rows:
        d = summary["datasets"].setdefault(r["dataset"], {"items": set(), "kept_items": set(), "train_items": set()})
        d["items"].add(r["sample_id"])
        if r["kept"]:
            d["kept_items"].add(r["sample_id"])
        if r["split"] == "train":
            d["train_items"].add(r["sample_id"])
    summary["datasets"] = {k: {n: len(v) for n, v in d.items()} for k, d in summary["datasets"].items()}
    return summary
