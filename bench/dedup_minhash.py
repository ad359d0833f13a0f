"""Near-duplicate detection: our vectorised numpy MinHash-LSH vs datasketch, same shingles.

    python bench/dedup_minhash.py [--docs 3000] [--words 200] [--threshold 0.7]

Plants near-duplicates (1-3 word edits, Jaccard >= 0.8 measured) among random documents and
reports wall time (signatures + LSH + verification), docs/s, recall and precision per backend.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_model.data.dedup import DedupConfig, dedup
from reference_model.data.minhash import shingle_keys
from reference_model.data.records import Doc


def corpus(n: int, words: int, seed: int = 0) -> tuple[list[Doc], set[str]]:
    rng = random.Random(seed)
    vocab = list({"".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
                  for _ in range(5000)})
    docs, truth = [], set()
    n_base = n * 2 // 3
    bases = [[rng.choice(vocab) for _ in range(words)] for _ in range(n_base)]
    docs += [Doc(f"b{i}", " ".join(w), "bench") for i, w in enumerate(bases)]
    for j in range(n - n_base):
        i = rng.randrange(n_base)
        w = bases[i][:]
        for _ in range(rng.randint(1, 3)):
            w[rng.randrange(len(w))] = rng.choice(vocab)
        text = " ".join(w)
        a, b = set(shingle_keys(text, 5).tolist()), set(shingle_keys(docs[i].text, 5).tolist())
        docs.append(Doc(f"d{j}", text, "bench"))
        if len(a & b) / len(a | b) >= 0.8:
            truth.add(f"d{j}")
    return docs, truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--words", type=int, default=200)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    docs, truth = corpus(args.docs, args.words)
    rows = {}
    for backend in ("numpy", "datasketch"):
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            res = dedup(docs, DedupConfig(backend=backend, exact=False, threshold=args.threshold))
            best = min(best, time.perf_counter() - t0)
        removed = {d.id for d, _ in res.rejected}
        rows[backend] = {"seconds": round(best, 3), "docs_per_s": round(len(docs) / best),
                         "recall": round(len(removed & truth) / max(len(truth), 1), 4),
                         "precision": round(len(removed & truth) / max(len(removed), 1), 4),
                         "removed": len(removed)}
    speedup = rows["datasketch"]["seconds"] / rows["numpy"]["seconds"]
    print(json.dumps({"docs": len(docs), "words_per_doc": args.words, "planted_near_dups": len(truth),
                      "threshold": args.threshold, "num_perm": 128, "results": rows,
                      "numpy_speedup_vs_datasketch": round(speedup, 2)}, indent=2))


if __name__ == "__main__":
    main()
