"""Planted contamination, per method and per benchmark, and datatrove's n-gram decontamination on the
same corpus (issue 15, must-show 1; results in docs/benchmarks.md).

    python bench/contamination_planted.py --seeds 0 1 2 --datatrove /tmp/dtvenv/bin/python

For each seed: the five mini benchmarks (compass.contamination.minisets) and a generated corpus
(compass.contamination.planting): FILLER random-word documents, half of each benchmark's test items
planted (half verbatim, half lightly edited), a paraphrased copy of a third of the others (a stress
test, reported apart), and every other-split item of the benchmarks as hard negatives (same
templates, other numbers and names). Precision and recall per benchmark of "labelled
contaminated" against the planted set (an item whose content equals a planted one counts as
planted: the C-Eval mini set holds some questions twice); recall of the paraphrased copies apart.
Times: index build (1 and 2 workers) and the check of all benchmarks, on this corpus.

datatrove (--datatrove PYTHON: a virtual environment with datatrove) runs its NGramsDecontFilter
over the same corpus with each benchmark item as its own task (bench/contamination_datatrove_side.py);
an item counts as found when a document is removed naming it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compass.contamination.check import CheckSettings, check_dataset
from compass.contamination.index_build import build_index
from compass.contamination.minisets import write_minisets
from compass.contamination.normalize import tokens
from compass.contamination.planting import plant_corpus

METHODS = {"ngram + longest (default)": ("ngram", "longest"), "ngram": ("ngram",), "longest": ("longest",),
           "minhash": ("minhash",), "all three": ("ngram", "longest", "minhash")}


def pr(flagged: set[str], truth: set[str]) -> tuple[float, float]:
    tp = len(flagged & truth)
    return (tp / len(flagged) if flagged else 1.0), (tp / len(truth) if truth else 1.0)


def run_seed(seed: int, out: Path, filler: int, datatrove: str | None) -> dict:
    root = out / f"seed{seed}"
    sets = write_minisets(root / "data")
    corpus = plant_corpus(root / "corpus.jsonl", {k: s.items for k, s in sets.items()},
                          negatives={k: s.negatives for k, s in sets.items()}, filler_docs=filler,
                          paraphrased=1 / 3, seed=seed)
    n_tokens = sum(len(tokens(json.loads(line)["text"])) for line in corpus.path.read_text().splitlines())
    row: dict = {"seed": seed, "docs": corpus.docs, "corpus_tokens": n_tokens, "methods": {}, "build": {}}
    for workers in (1, 2):
        started = time.perf_counter()
        index = build_index([str(corpus.path)], root / f"index{workers}", workers=workers)
        row["build"][workers] = round(time.perf_counter() - started, 2)
    for name, methods in METHODS.items():
        per_bench = {}
        started = time.perf_counter()
        for bench, s in sets.items():
            labels = check_dataset(s.items, index, CheckSettings(methods))
            flagged = {r.id for r in labels if r.label == "contaminated"}
            truth, para = corpus.truth(s.items), corpus.truth(s.items, ("paraphrased",))
            precision, recall = pr(flagged - para, truth)
            per_bench[bench] = {"precision": precision, "recall": recall, "n_planted": len(truth),
                                "paraphrased_recall": len(flagged & para) / max(1, len(para)), "n_paraphrased": len(para),
                                "clean_labelled_partial": sum(r.label == "partial" and r.id not in truth | para for r in labels)}
        per_bench["check_s"] = round(time.perf_counter() - started, 2)
        row["methods"][name] = per_bench
    if datatrove:
        items, owner = [], {}
        for bench, s in sets.items():
            for k, t in enumerate(s.items):
                key = f"{bench}__{k}"
                owner[key] = (bench, t.id)
                items.append({"key": key, "query": "\n".join([t.question, *t.options]), "label": t.answer})
        (root / "items.json").write_text(json.dumps(items))
        side = Path(__file__).with_name("contamination_datatrove_side.py")
        subprocess.run([datatrove, str(side), str(root / "items.json"), str(corpus.path), str(root / "datatrove.json")],
                       check=True)
        for name, res in json.loads((root / "datatrove.json").read_text()).items():
            found: dict[str, set[str]] = {}
            for task in res["flagged_docs"].values():
                bench, sample = owner[task]
                found.setdefault(bench, set()).add(sample)
            per_bench = {}
            for bench, s in sets.items():
                truth, para = corpus.truth(s.items), corpus.truth(s.items, ("paraphrased",))
                precision, recall = pr(found.get(bench, set()) - para, truth)
                per_bench[bench] = {"precision": precision, "recall": recall,
                                    "paraphrased_recall": len(found.get(bench, set()) & para) / max(1, len(para))}
            per_bench["filter_s"], per_bench["index_s"] = res["filter_s"], res["index_s"]
            per_bench["items_without_ngrams"] = res["items_without_ngrams"]
            row["methods"][name] = per_bench
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--filler", type=int, default=1000, help="random-word documents (about 300 words each)")
    ap.add_argument("--datatrove", help="python of a virtual environment with datatrove")
    ap.add_argument("--out", default="/tmp/contamination-planted")
    args = ap.parse_args()
    out = Path(args.out)
    info = {"date": time.strftime("%Y-%m-%d"), "python": platform.python_version(), "cpus": os.cpu_count(),
            "load_before": os.getloadavg()}
    rows = [run_seed(seed, out, args.filler, args.datatrove) for seed in args.seeds]
    info["load_after"] = os.getloadavg()
    (out / "results.json").write_text(json.dumps({"info": info, "rows": rows}, indent=1))
    benches = [b for b in rows[0]["methods"]["ngram"] if b.endswith("-mini")]
    print(json.dumps(info))
    print("| method | " + " | ".join(benches) + " | paraphrased recall | time |")
    print("|---" * (len(benches) + 3) + "|")
    for name in rows[0]["methods"]:
        cells = []
        for b in benches:
            p = min(r["methods"][name][b]["precision"] for r in rows)
            rc = min(r["methods"][name][b]["recall"] for r in rows)
            cells.append(f"{p:.3f} / {rc:.3f}")
        para = [r["methods"][name][b]["paraphrased_recall"] for r in rows for b in benches]
        timing = [r["methods"][name].get("check_s", r["methods"][name].get("filter_s")) for r in rows]
        print(f"| {name} | " + " | ".join(cells) + f" | {sum(para) / len(para):.2f} | {min(timing)} s |")
    print("corpus tokens", [r["corpus_tokens"] for r in rows], "build s (1, 2 workers)", [r["build"] for r in rows])


if __name__ == "__main__":
    main()
