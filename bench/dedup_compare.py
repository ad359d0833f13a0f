"""Near-duplicate detection on one planted corpus: ours (numpy) vs datasketch (batch API) vs datatrove.

    python bench/dedup_compare.py [--bases 2000] [--variants 500] [--repeats 2] [--curve-pairs 400]

The corpus (``reference_model.data.planted``) holds distinct documents (random words, plus some
sharing a header and footer) and, for the first ``--variants`` of them, one variant each at
Jaccard ~0.9, 0.8, 0.7 and 0.5 (measured on word 5-gram shingles). Every system is scored by the
clusters it forms: a (base, variant) pair in one cluster is found; two distinct documents, or a
0.5 variant and its base, in one cluster is a false merge. All systems run in this process one
after the other, so their times are comparable as ratios; absolute times depend on the machine.

datatrove (``pip install datatrove spacy``; its English word tokenizer is spaCy's) runs its
MinHash stages 1-3 (signatures, buckets, clusters) through ``LocalPipelineExecutor`` on a temp
dir; if it cannot be imported the reason is printed and its rows are skipped.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_model.data.dedup import DedupConfig, dedup
from reference_model.data.minhash import MinHasher, near_duplicate_of, pair_recall, shingle_keys
from reference_model.data.planted import LEVELS, PlantedCorpus, planted_corpus

Clusters = dict[str, int]  # doc id -> cluster id (documents alone in their cluster may be absent)


def score(corpus: PlantedCorpus, clusters: Clusters) -> dict:
    def same(a: str, b: str) -> bool:
        return a in clusters and b in clusters and clusters[a] == clusters[b]

    found: dict[float, list[bool]] = {lv: [] for lv in LEVELS}
    for v, base in corpus.base_of.items():
        found[float(v[1:v.index("/")])].append(same(v, base))
    by_cluster: dict[int, list[str]] = {}
    for doc_id, c in clusters.items():
        by_cluster.setdefault(c, []).append(doc_id)
    distinct_merged = sum(max(sum(d in corpus.distinct for d in members) - 1, 0) for members in by_cluster.values())
    high = [v for v, j in corpus.jaccard.items() if j >= 0.8]
    return {"recall_by_level": {f"{lv}": round(float(np.mean(f)), 4) for lv, f in found.items()},
            "recall_j_ge_0.8": round(float(np.mean([same(v, corpus.base_of[v]) for v in high])), 4),
            "pairs_j_ge_0.8": len(high),
            "merged_at_0.5": int(sum(found[0.5])) if 0.5 in found else None,
            "distinct_docs_merged": distinct_merged}


def ours(corpus: PlantedCorpus, backend: str) -> Clusters:
    res = dedup(corpus.docs, DedupConfig(backend=backend, exact=False))  # type: ignore[arg-type]
    index = {d.id: i for i, d in enumerate(corpus.docs)}
    return {**index, **{d.id: index[r.split(":", 1)[1]] for d, r in res.rejected}}


def datasketch_defaults(corpus: PlantedCorpus) -> Clusters:
    """datasketch as its README shows it: MinHash.bulk + MinHashLSH(threshold=0.7), its own bands, no verification."""
    from datasketch import MinHash, MinHashLSH

    from reference_model.data.minhash import shingle_bytes

    cache: dict[str, int] = {}
    sketches = MinHash.bulk((shingle_bytes(d.text, 5, cache) for d in corpus.docs), num_perm=128, seed=1)
    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    clusters: Clusters = {}
    for i, (d, m) in enumerate(zip(corpus.docs, sketches)):
        hits = lsh.query(m)
        clusters[d.id] = min((clusters[corpus.docs[j].id] for j in hits), default=i)
        lsh.insert(i, m)
    return clusters


def datatrove_run(corpus: PlantedCorpus, buckets: int, rows: int) -> Clusters:
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupSignature,
    )

    cfg = MinhashConfig(n_grams=5, num_buckets=buckets, hashes_per_bucket=rows)
    docs = [Document(text=d.text, id=d.id) for d in corpus.docs]
    with tempfile.TemporaryDirectory() as tmp:
        def stage(step, name: str, tasks: int = 1) -> None:  # one worker: tasks run one after another here
            LocalPipelineExecutor(pipeline=step, tasks=tasks, workers=1, logging_dir=f"{tmp}/logs/{name}").run()

        stage([docs, MinhashDedupSignature(output_folder=f"{tmp}/sigs", config=cfg)], "sig")
        stage([MinhashDedupBuckets(input_folder=f"{tmp}/sigs", output_folder=f"{tmp}/buckets", config=cfg)], "buckets",
              tasks=buckets)  # datatrove requires one task per bucket
        stage([MinhashDedupCluster(input_folder=f"{tmp}/buckets", output_folder=f"{tmp}/clusters", config=cfg,
                                   save_cluster_id=True)], "cluster")
        clusters: Clusters = {}
        for f in Path(f"{tmp}/clusters").glob("*.clusters"):
            pairs = np.frombuffer(f.read_bytes(), dtype="<u4").reshape(-1, 2)
            clusters.update({corpus.docs[int(doc)].id: int(c) for doc, c in pairs})
    return clusters


def timed(fn, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def recall_curve(pairs: int, seed: int = 1) -> list[dict]:
    """Measured share of pairs found per Jaccard level next to the bound the docs state."""
    levels = tuple(round(x, 2) for x in np.arange(0.5, 0.96, 0.05))
    corpus = planted_corpus(n_base=pairs, n_with_variants=pairs, levels=levels, n_templated=0, seed=seed)
    cfg = DedupConfig()
    b, r = cfg.bands_rows()
    cache: dict[str, int] = {}
    sig = MinHasher(cfg.num_perm, cfg.seed).signatures([shingle_keys(d.text, cfg.ngram, cache) for d in corpus.docs])
    root = near_duplicate_of(sig, cfg.threshold, b, r)
    index = {d.id: i for i, d in enumerate(corpus.docs)}
    rows = []
    for lv in levels:
        ids = [v for v in corpus.base_of if v.startswith(f"j{lv:.2f}/")]
        js = [corpus.jaccard[v] for v in ids]
        found = [root[index[v]] == root[index[corpus.base_of[v]]] for v in ids]
        rows.append({"level": lv, "pairs": len(ids), "mean_j": round(float(np.mean(js)), 3),
                     "measured": round(float(np.mean(found)), 4),
                     "bound": round(float(np.mean([pair_recall(j, b, r, cfg.threshold, cfg.num_perm) for j in js])), 4)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bases", type=int, default=2000)
    ap.add_argument("--variants", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--curve-pairs", type=int, default=400)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    corpus = planted_corpus(n_base=args.bases, n_with_variants=args.variants, seed=0)
    b, r = DedupConfig().bands_rows()
    systems = {
        "ours (numpy)": lambda: ours(corpus, "numpy"),
        "datasketch MinHash.bulk, same bands + verification": lambda: ours(corpus, "datasketch"),
        "datasketch MinHash.bulk + MinHashLSH(threshold=0.7) defaults": lambda: datasketch_defaults(corpus),
    }
    try:
        from importlib.metadata import version

        from datatrove.utils.word_tokenizers import load_word_tokenizer
        load_word_tokenizer("eng")  # spaCy's English tokenizer; fails here when spaCy is missing
        systems["datatrove defaults (14 x 8)"] = lambda: datatrove_run(corpus, 14, 8)
        systems[f"datatrove with our bands ({b} x {r})"] = lambda: datatrove_run(corpus, b, r)
        datatrove_note = f"datatrove {version('datatrove')}, spacy {version('spacy')}, xxhash {version('xxhash')}"
    except Exception as e:  # report why, keep the other rows
        datatrove_note = f"datatrove not run: {type(e).__name__}: {e}"
    results = {}
    for name, fn in systems.items():
        seconds, clusters = timed(fn, args.repeats)
        results[name] = {"seconds": round(seconds, 3), **score(corpus, clusters)}
    base_t = results["ours (numpy)"]["seconds"]
    for row in results.values():
        row["time_vs_ours"] = round(row["seconds"] / base_t, 2)
    jr = {lv: (round(min(j for v, j in corpus.jaccard.items() if v.startswith(f"j{lv:.2f}/")), 3),
               round(max(j for v, j in corpus.jaccard.items() if v.startswith(f"j{lv:.2f}/")), 3)) for lv in LEVELS}
    print(json.dumps({"docs": len(corpus.docs), "distinct": len(corpus.distinct), "jaccard_ranges": jr,
                      "bands_rows": [b, r], "datatrove": datatrove_note, "results": results,
                      "recall_curve": recall_curve(args.curve_pairs) if args.curve_pairs else []}, indent=1))


if __name__ == "__main__":
    main()
