"""``compass contamination``: arguments, the index to build or reuse, and the files written."""
from __future__ import annotations

import argparse
import hashlib
import logging
import os
from pathlib import Path

from compass.contamination import CORPUS_METHODS, DEFAULT_METHODS
from compass.errors import CompassError

log = logging.getLogger(__name__)
ALL_METHODS = (*CORPUS_METHODS, "model")

DESCRIPTION = """\
Check how much of each dataset of CONFIG a corpus contains, sample by sample (docs/contamination.md).

Writes OUT/<dataset abbr>.jsonl (one ContaminationLabel per sample: clean, partial or contaminated,
coverage, longest match, field, corpus document) and OUT/<dataset abbr>.summary.json (% contaminated
with a 95% CI). The corpus index is built once (streamed, in parallel) and reused while the corpus
files are unchanged; --index DIR names where it lives, so one index serves many configs.

methods (--methods, comma-separated):
  ngram     token coverage by long matching n-grams (Llama 2's measure; 8-grams, 13-grams for long fields)
  longest   each candidate document aligned alone: longest exact span, one-document coverage (verifies ngram)
  minhash   near-duplicate passages (MinHash/LSH, Jaccard of token sets): catches reworded copies,
            but also flags different items of one template
  model     Min-K%/Min-K%++ of a model on each item vs a matched reference: evidence, never a label
            (OUT/<dataset>.model.jsonl)

examples:
  compass contamination examples/eval_demo.py --corpus outputs/refdata/manifest.json
  compass contamination --corpus shards/ --index idx/                build the index only
  compass contamination examples/eval_demo.py --index idx/ --methods ngram,longest,minhash,model

exit codes: 0 done, 2 bad arguments, config, data or corpus.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="an eval config: its datasets are checked (none: build the index only)")
    p.add_argument("--corpus", nargs="+", metavar="PATH", help="refmodel data manifest.json, .jsonl/.jsonl.gz/.txt "
                   "files, or directories of them")
    p.add_argument("--index", metavar="DIR", help="the index directory (default: WORK_DIR/contamination_index/<hash of "
                   "the corpus paths>); built there unless it holds an index of these unchanged files")
    p.add_argument("-o", "--out", metavar="DIR", help="where labels go (default: WORK_DIR/<config name>/contamination)")
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS), help=f"comma-separated among "
                   f"{', '.join(ALL_METHODS)} (default: {','.join(DEFAULT_METHODS)})")
    p.add_argument("--model", metavar="ABBR_OR_PATH", help="model method: a model abbr of CONFIG or a local Hugging "
                   "Face model directory (default: CONFIG's first model)")
    p.add_argument("--workers", type=int, help="index build processes (default: the CPU count)")
    p.add_argument("--rebuild", action="store_true", help="build the index again even if it is current")
    p.add_argument("-w", "--work-dir", help="default root of the index and the output (default: the config's work_dir "
                   "or outputs/)")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="override config values")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")


def _methods(text: str) -> list[str]:
    methods = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad or not methods:
        raise CompassError(f"--methods: unknown method {bad[0] if bad else '(none)'!r}; choose from {', '.join(ALL_METHODS)}")
    return list(dict.fromkeys(methods))


def _index(args: argparse.Namespace, work_dir: Path, progress: bool):
    from compass.contamination import corpus
    from compass.contamination.index import CorpusIndex, IndexSettings
    from compass.contamination.index_build import build_index

    if not args.corpus:
        if not args.index:
            raise CompassError("--corpus: give the corpus files (or --index DIR of an index built before)")
        return CorpusIndex(Path(args.index))
    sources = corpus.resolve(args.corpus)
    digest = hashlib.sha256("\n".join(s.path for s in sources).encode()).hexdigest()[:16]
    root = Path(args.index) if args.index else work_dir / "contamination_index" / digest
    if (root / "meta.json").is_file() and not args.rebuild:
        index = CorpusIndex(root)
        if index.meta.sources == sources and index.meta.settings == IndexSettings():
            log.info("contamination index: reusing %s (%d documents, %d tokens)", root, index.meta.docs, index.meta.tokens)
            return index
        if args.index and [s.path for s in index.meta.sources] != [s.path for s in sources]:
            raise CompassError(f"--index: {root} holds the index of other corpus files; add --rebuild to replace it "
                               f"or choose another directory")
        log.info("contamination index: corpus files changed since %s was built; rebuilding", root)
    if args.workers is not None and args.workers < 1:
        raise CompassError(f"--workers: must be >= 1, got {args.workers}")
    return build_index([str(p) for p in args.corpus], root, workers=args.workers or os.cpu_count() or 1,
                       progress=progress)


def _model(args: argparse.Namespace, cfg):
    from compass.config import ModelConfig
    from compass.schema import from_dict

    if args.model and cfg and any(m.abbr == args.model for m in cfg.models):
        model = next(m for m in cfg.models if m.abbr == args.model)
    elif args.model:
        if not Path(args.model).is_dir():
            raise CompassError(f"--model: {args.model} is neither a model abbr of the config nor a model directory")
        model = from_dict(ModelConfig, {"abbr": Path(args.model).name, "path": args.model}, "--model").validate("--model")
    elif cfg:
        model = cfg.models[0]
    else:
        raise CompassError("--model: the model method needs a model (a config's, or --model DIR)")
    if model.type != "hf":
        raise CompassError(f"--model: {model.abbr} is a {model.type} model; Min-K%++ needs every token's "
                           f"distribution, so it runs on transformers models only")
    from compass.models.hf import HFCausalLM

    return HFCausalLM(model)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from compass import records
    from compass.config import load_config
    from compass.contamination import summary
    from compass.contamination.check import CheckSettings, check_dataset
    from compass.contamination.evidence import model_evidence
    from compass.contamination.fields import SKIPPED_TYPES, sample_texts
    from compass.datasets import load

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    methods = _methods(args.methods)
    corpus_methods = tuple(m for m in methods if m != "model")
    cfg = load_config(args.config, args.cfg_options) if args.config else None
    work_dir = Path(args.work_dir or (cfg.work_dir if cfg else None) or "outputs")
    index = _index(args, work_dir, not args.quiet) if corpus_methods or not cfg else None
    if cfg is None:
        assert index is not None  # built above: no config means an index to build
        if "model" in methods:
            raise CompassError("--methods model: needs a CONFIG (its datasets are what the model is scored on)")
        print(f"contamination index: {index.root} ({index.meta.docs} documents, {index.meta.tokens} tokens)")
        return 0
    settings = CheckSettings(methods=corpus_methods)
    if index is not None:
        settings.validate(index)
    backend = _model(args, cfg) if "model" in methods else None
    out = Path(args.out) if args.out else work_dir / cfg.name / "contamination"
    out.mkdir(parents=True, exist_ok=True)
    summaries = []
    for ds in tqdm(cfg.datasets, desc="contamination (datasets)", disable=args.quiet):
        if ds.type in SKIPPED_TYPES:
            log.warning("%s: not checked (%s: %s)", ds.abbr, ds.type, SKIPPED_TYPES[ds.type])
            continue
        texts = sample_texts(ds, load(ds).test)
        labels = check_dataset(texts, index, settings) if index is not None and corpus_methods else None
        evidence = model_evidence(backend, texts) if backend is not None else None
        if labels is not None:
            records.write_lines(out / f"{ds.abbr}.jsonl", labels)
        if evidence is not None:
            records.write_lines(out / f"{ds.abbr}.model.jsonl", evidence)
        s = summary.summarize(ds.abbr, labels, evidence, methods, str(index.root) if index else None,
                              [src.path for src in index.meta.sources] if index else [], settings.thresholds, len(texts))
        records.write_record(out / f"{ds.abbr}.summary.json", s)
        summaries.append(s)
    print(summary.table(summaries))
    print(f"labels: {out}")
    return 0
