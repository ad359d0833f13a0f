"""Model-side evidence on a planted set: AUROC of Min-K% and Min-K%++ (issue 15, must-show 4;
results in docs/benchmarks.md).

    python bench/contamination_model.py --seeds 0 1 --epochs 1 3

The model is the bundled reference model (examples/assets/reference-demo, 2.16M parameters, trained on
the synthetic train splits only). For each seed it is trained further, on CPU, on a contaminated
corpus: the planted copies of half of each mini benchmark's test items (half verbatim, half
edited, rendered as in compass.contamination.planting) mixed with every other-split item of the
benchmarks, for EPOCHS passes. Members are the planted items, non-members the other test items.
Scores are those of ``compass contamination --methods model`` (compass.contamination.evidence: the
question's Min-K% and Min-K%++, and Min-K%++ minus that of the matched reference). The untrained
model gives the null (it never saw any test item): AUROC near 0.5 and a difference near 0.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compass.config import ModelConfig
from compass.contamination.evidence import model_evidence
from compass.contamination.minisets import write_minisets
from compass.contamination.model_side import auroc
from compass.contamination.planting import Filler, edited_copy, render
from compass.models.hf import HFCausalLM
from compass.stats.intervals import bootstrap_mean

MODEL = Path(__file__).resolve().parent.parent / "examples" / "assets" / "reference-demo"


def evaluate(backend, sets, members: dict[str, set[str]]) -> dict:
    out, pooled = {}, {"pos": [], "neg": [], "pos_k": [], "neg_k": [], "pos_d": [], "neg_d": []}
    for bench, s in sets.items():
        ev = {e.id: e for e in model_evidence(backend, s.items)}
        pos = [ev[t.id] for t in s.items if t.id in members[bench]]
        neg = [ev[t.id] for t in s.items if t.id not in members[bench]]
        diff = lambda es: [e.min_k_pp - e.reference_min_k_pp for e in es if e.reference_min_k_pp is not None]  # noqa: E731
        row = {"n_members": len(pos), "n_others": len(neg),
               "auroc_min_k_pp": auroc([e.min_k_pp for e in pos], [e.min_k_pp for e in neg]),
               "auroc_min_k": auroc([e.min_k for e in pos], [e.min_k for e in neg]),
               "auroc_minus_reference": auroc(diff(pos), diff(neg)),
               "members_minus_reference": [round(sum(diff(pos)) / max(1, len(diff(pos))), 3),
                                           *[round(x, 3) for x in bootstrap_mean(diff(pos))]],
               "others_minus_reference": [round(sum(diff(neg)) / max(1, len(diff(neg))), 3),
                                          *[round(x, 3) for x in bootstrap_mean(diff(neg))]]}
        out[bench] = {k: (round(v, 3) if isinstance(v, float) and not math.isnan(v) else v) for k, v in row.items()}
        pooled["pos"] += [e.min_k_pp for e in pos]
        pooled["neg"] += [e.min_k_pp for e in neg]
        pooled["pos_k"] += [e.min_k for e in pos]
        pooled["neg_k"] += [e.min_k for e in neg]
        pooled["pos_d"] += diff(pos)
        pooled["neg_d"] += diff(neg)
    out["all"] = {"auroc_min_k_pp": round(auroc(pooled["pos"], pooled["neg"]), 3),
                  "auroc_min_k": round(auroc(pooled["pos_k"], pooled["neg_k"]), 3),
                  "auroc_minus_reference": round(auroc(pooled["pos_d"], pooled["neg_d"]), 3)}
    return out


def train(backend, texts: list[str], epochs: int, seed: int, lr: float, batch: int) -> float:
    model, tok = backend.model, backend.tokenizer
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rng = random.Random(seed)
    model.train()
    loss = float("nan")
    for _ in range(epochs):
        order = rng.sample(texts, len(texts))
        for i in range(0, len(order), batch):
            enc = tok(order[i:i + batch], return_tensors="pt", padding=True, truncation=True, max_length=256)
            labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
            out = model(**enc, labels=labels)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
            loss = out.loss.item()
    model.eval()
    return loss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--epochs", nargs="+", type=int, default=[1, 3])
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--out", default="/tmp/contamination-model")
    args = ap.parse_args()
    torch.set_num_threads(2)
    out = Path(args.out)
    sets = write_minisets(out / "data")
    cfg = ModelConfig(abbr="reference-demo", path=str(MODEL), dtype="float32", device="cpu", max_seq_len=256,
                      max_out_len=16, batch_size=16).validate("model")
    results = {"info": {"date": time.strftime("%Y-%m-%d"), "load_before": os.getloadavg(), "torch": torch.__version__},
               "null": evaluate(HFCausalLM(cfg), sets, {k: set() for k in sets}), "runs": []}
    for seed in args.seeds:
        rng, filler = random.Random(seed), Filler(seed)
        members: dict[str, set[str]] = {}
        texts = []
        for bench, s in sets.items():
            chosen = rng.sample(range(len(s.items)), len(s.items) // 2)
            members[bench] = {s.items[i].id for i in chosen}
            texts += [render(s.items[i], rng) if k % 2 == 0 else edited_copy(s.items[i], rng, filler)
                      for k, i in enumerate(chosen)]
            texts += [render(t, rng) for t in s.negatives]
        null = evaluate(HFCausalLM(cfg), sets, members)  # the same split, before training: AUROC near 0.5
        for epochs in args.epochs:
            backend = HFCausalLM(cfg)
            started = time.perf_counter()
            loss = train(backend, texts, epochs, seed, args.lr, args.batch)
            row = {"seed": seed, "epochs": epochs, "train_texts": len(texts), "final_loss": round(loss, 3),
                   "train_s": round(time.perf_counter() - started, 1), "untrained": null["all"],
                   "scores": evaluate(backend, sets, members)}
            print(json.dumps({k: v for k, v in row.items() if k != "scores"} | {"all": row["scores"]["all"]}), flush=True)
            results["runs"].append(row)
    results["info"]["load_after"] = os.getloadavg()
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results["null"]))


if __name__ == "__main__":
    main()
