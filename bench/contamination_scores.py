"""Scores split by contamination on real trained models (issue 15, must-show 2; results in docs/benchmarks.md).

Two tiny reference models are pretrained the same way (``refmodel data`` -> ``pretrain`` -> ``export``)
on two corpora that differ only in planted benchmark items:

* clean: filler sentences and the mini MMLU's dev and val items written with their answers (the format
  a model must learn, from items that are not in the test split);
* contaminated: the same, plus a known half of the mini MMLU's test items, each written --repeats times
  as ``question / options / Answer: X`` (every copy rendered alike: planted verbatim).

``compass contamination`` checks the test split against the contaminated corpus; ``compass run``
evaluates both models (zero-shot, log-likelihood of the option letters) with those labels, so the
summaries split each model's accuracy into clean and contaminated samples. The model trained on the
contaminated corpus should gain on the planted half only; the one trained on the clean corpus serves
as the control (the same samples, labelled by the contaminated corpus, with no gap expected).

    python bench/contamination_scores.py --out /tmp/cscores          # the recorded run (400 steps)
    python bench/contamination_scores.py --test --out /tmp/cscores-t  # what the slow test runs

Prints one JSON object: per model, the clean and contaminated accuracy with 95% intervals, the
difference with its interval and p-value (read back from the run's summary.csv), and timings.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compass.synthetic.mmlu import MMLU_SUBJECTS, write_mmlu  # noqa: E402

QUESTION = "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"
# The slow test's settings (tests/test_contamination_scores.py): less filler, shorter sequences, fewer steps.
TEST = {"steps": 250, "repeats": 16, "train_repeats": 2, "filler": 2, "seq_len": 128, "micro_batch": 8, "n_test": 5}
MODEL = {"hidden_size": 128, "n_layers": 4, "n_heads": 4, "n_kv_heads": 2, "max_seq_len": 256}


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def sh(*cmd: str, log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        proc = subprocess.run([sys.executable, *cmd], cwd=REPO, env=_env(), stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed (exit {proc.returncode}); see {log}")


def read_items(root: Path, split: str) -> list[dict]:
    items = []
    for subject in MMLU_SUBJECTS:
        with (root / "data" / split / f"{subject}_{split}.csv").open(newline="") as f:
            for row in csv.reader(f):
                items.append(dict(zip(["question", "A", "B", "C", "D", "answer"], row)))
    return items


def item_text(item: dict) -> str:
    return QUESTION.format(**item) + " " + item["answer"]


def filler(n: int, rng: random.Random) -> list[str]:
    names = ["Ana", "Ben", "Cleo", "Dev", "Emma", "Finn", "Gus", "Hana"]
    out = []
    for i in range(n):
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        out.append(f"{names[i % 8]} has {a} apples and buys {b} more, so {names[i % 8]} has {a + b} apples. "
                   f"The river of Land{rng.randint(0, 99)} flows to the sea. Story number {i} ends here.")
    return out


def corpora(out: Path, mmlu: Path, planted_share: float, repeats: int, train_repeats: int, filler_per_item: int,
            seed: int) -> tuple[Path, Path, list[dict]]:
    """Writes clean.jsonl and contaminated.jsonl; returns them and the planted test items."""
    rng = random.Random(seed)
    train = read_items(mmlu, "dev") + read_items(mmlu, "val")
    test = read_items(mmlu, "test")
    planted = rng.sample(test, round(planted_share * len(test)))
    base = [item_text(it) for it in train for _ in range(train_repeats)] + filler(filler_per_item * len(train), rng)
    dirty = base + [item_text(it) for it in planted for _ in range(repeats)]
    paths = []
    for name, texts in (("clean", base), ("contaminated", dirty)):
        texts = list(texts)
        random.Random(seed + 1).shuffle(texts)
        path = out / f"{name}.jsonl"
        with path.open("w") as f:
            for i, text in enumerate(texts):
                f.write(json.dumps({"id": f"{name}-{i}", "text": text}) + "\n")
        paths.append(path)
    return paths[0], paths[1], planted


def data_config(source: Path, tokenizer: str) -> dict:
    return {"sources": [{"type": "jsonl", "path": str(source)}], "dedup": {"exact": False, "near": False},
            "quality": {"threshold": 0.0},
            "clean": {"max_top_ngram_ratio": 1.0, "max_dup_line_ratio": 1.0, "max_digit_ratio": 1.0,
                      "min_words": 1, "min_chars": 1, "max_symbol_ratio": 1.0},
            "tokenizer": tokenizer, "tokenizer_vocab": 512, "pack": {"val_fraction": 0.02}, "write_rejected": False}


def prepare(out: Path, name: str, source: Path, tokenizer: str) -> Path:
    """``refmodel data`` on one corpus (``tokenizer``: "" trains one, else the path of one to reuse)."""
    work = out / name
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "data" / "manifest.json").is_file():
        (work / "data.json").write_text(json.dumps(data_config(source, tokenizer)))
        sh("-m", "reference_model.cli", "data", "--config", str(work / "data.json"), "--out", str(work / "data"),
           log=work / "data.log")
    return work


def train(work: Path, steps: int, seq_len: int, micro_batch: int, threads: int) -> Path:
    """``refmodel pretrain`` + ``export`` on a prepared corpus; returns the Hugging Face export."""
    if (work / "hf" / "config.json").is_file():  # trained by an earlier call with this --out
        return work / "hf"
    flags = {"data": work / "data", "out": work / "run", "model": "tiny", "model_overrides": json.dumps(MODEL),
             "seq_len": seq_len, "micro_batch": micro_batch, "max_steps": steps, "lr": 3e-3, "warmup_steps": 10,
             "min_lr_ratio": 0.1, "ckpt_every": steps, "eval_every": steps, "progress": "false", "plot": "false",
             "threads": threads, "seed": 0}
    sh("-m", "reference_model.cli", "pretrain", *[x for k, v in flags.items() for x in (f"--{k}", str(v))],
       log=work / "pretrain.log")
    sh("-m", "reference_model.cli", "export", "--ckpt", str(work / "run"), "--out", str(work / "hf"),
       log=work / "export.log")
    return work / "hf"


def eval_config(out: Path, mmlu: Path, models: dict[str, Path]) -> Path:
    dataset = dict(abbr="mmlu-mini", type="mmlu", path=str(mmlu),
                   reader_cfg=dict(input_columns=["question", "A", "B", "C", "D"], output_column="answer",
                                   train_split="dev", test_split="test"),
                   infer_cfg=dict(prompt_template=dict(template=QUESTION), retriever=dict(type="ZeroRetriever"),
                                  inferencer=dict(type="PPLInferencer")),
                   eval_cfg=dict(evaluator=dict(type="AccEvaluator")))
    model_cfgs = [dict(abbr=name, type="hf", path=str(path), dtype="float32", device="cpu", batch_size=16,
                       max_seq_len=256, max_out_len=8) for name, path in models.items()]
    path = out / "contamination_scores.py"
    path.write_text(f"models = {model_cfgs!r}\ndatasets = [{dataset!r}]\nwork_dir = {str(out / 'outputs')!r}\n")
    return path


def split_rows(summary_csv: Path) -> dict[str, dict[str, list[float]]]:
    """model -> {subset: [value, lo, hi]} from the split rows of summary.csv (percent)."""
    rows = list(csv.reader(summary_csv.open()))
    header, out = rows[0], {}
    models = [h for h in header[2:] if not h.endswith(("_ci_lo", "_ci_hi"))]
    for row in rows[1:]:
        if not row[1].startswith("contamination: "):
            continue
        subset = row[1].removeprefix("contamination: ").split(" (")[0]
        for i, m in enumerate(models):
            cells = row[2 + 3 * i: 5 + 3 * i]
            if cells[0]:
                out.setdefault(m, {})[subset] = [float(c) for c in cells]
    return out


def experiment(out: Path, steps: int, repeats: int, train_repeats: int = 16, filler: int = 40, seq_len: int = 256,
               n_test: int = 25, micro_batch: int = 16, threads: int = 1, seed: int = 0) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    mmlu = write_mmlu(out / "mmlu", n_dev=5, n_val=5, n_test=n_test, seed=seed)
    clean, dirty, planted = corpora(out, mmlu, 0.5, repeats, train_repeats, filler, seed)
    timings = {}
    works = {"trained-clean": prepare(out, "clean", clean, "")}
    tokenizer = str(out / "clean" / "data" / "tokenizer")  # one tokenizer for both, trained on the clean corpus
    works["trained-contaminated"] = prepare(out, "contaminated", dirty, tokenizer)
    with ThreadPoolExecutor(2) as pool:  # the two trainings are independent: one core each
        exports = {name: pool.submit(train, work, steps, seq_len, micro_batch, threads) for name, work in works.items()}
        models = {name: future.result() for name, future in exports.items()}
    timings["train_s"] = round(time.perf_counter() - t0, 1)
    config = eval_config(out, mmlu, models)
    labels = out / "labels"
    sh("-m", "compass.cli", "contamination", str(config), "--corpus", str(out / "contaminated" / "data" / "manifest.json"),
       "-o", str(labels), "--workers", "1", "-q", log=out / "contamination.log")
    t1 = time.perf_counter()
    sh("-m", "compass.cli", "run", str(config), "--contamination", str(labels), "-q", log=out / "run.log")
    timings["eval_s"] = round(time.perf_counter() - t1, 1)
    run = max((out / "outputs" / config.stem).glob("2*"))
    label_counts: dict[str, int] = {}
    for line in (labels / "mmlu-mini.jsonl").read_text().splitlines():
        lab = json.loads(line)["label"]
        label_counts[lab] = label_counts.get(lab, 0) + 1
    return {"steps": steps, "repeats": repeats, "train_repeats": train_repeats, "filler_per_item": filler,
            "seq_len": seq_len, "micro_batch": micro_batch, "n_test": 4 * n_test, "planted": len(planted), "labels": label_counts,
            "split": split_rows(run / "summary" / "summary.csv"), "run": str(run), "timings": timings,
            "total_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("/tmp/contamination-scores"))
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=16, help="copies of each planted item")
    ap.add_argument("--train-repeats", type=int, default=16, help="copies of each dev/val item")
    ap.add_argument("--filler", type=int, default=40, help="filler sentences per dev/val item")
    ap.add_argument("--n-test", type=int, default=25, help="test items per subject (4 subjects)")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--test", action="store_true", help="the slow test's settings (TEST)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    settings = TEST if args.test else {"steps": args.steps, "repeats": args.repeats, "train_repeats": args.train_repeats,
                                       "filler": args.filler, "seq_len": args.seq_len, "n_test": args.n_test}
    print(json.dumps(experiment(args.out, **settings, threads=args.threads, seed=args.seed), indent=1))


if __name__ == "__main__":
    main()
