"""Quality score on labelled sets: the heuristic rules vs a small classifier on the same features.

    python bench/quality_auroc.py [--per-category 240]

Sets (``reference_model.data.quality_set``): the stdlib set (docstrings, pydoc topics, stdlib code
vs generated salad, boilerplate, repetition) split dev/test by id hash, and a set built the same
way from this machine's site-packages (other authors, other styles). The classifier is logistic
regression on the rules' features (standardised, one model per scorer kind, plain numpy gradient
descent), fit on the stdlib dev split. It ships only if it measurably beats the rules on the
stdlib test split and on the site-packages set.
"""
from __future__ import annotations

import argparse
import json
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_model.data.quality_rules import code_features, evaluate, prose_features
from reference_model.data.quality_set import Item, auroc, labelled_set


def features(item: Item) -> np.ndarray:
    f = code_features(item.text) if item.kind == "code" else prose_features(item.text)
    return np.array([float(v) for v in f.values() if isinstance(v, (int, float))])


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 3000, lr: float = 0.1, l2: float = 1e-3):
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= lr * (z.T @ (p - y) / len(y) + l2 * w)
        b -= lr * float(np.mean(p - y))
    return lambda q: 1 / (1 + np.exp(-(((q - mu) / sd) @ w + b)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-category", type=int, default=240)
    args = ap.parse_args()
    t0 = time.perf_counter()
    stdlib = labelled_set(args.per_category, seed=0)
    site = labelled_set(args.per_category, seed=1, root=sysconfig.get_paths()["purelib"])
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    rule = {id(it): evaluate(it.text, it.kind)[0] for it in stdlib + site}
    t_score = time.perf_counter() - t0
    models = {}
    for kind in ("prose", "code"):
        train = [it for it in stdlib if it.split == "dev" and it.kind == kind]
        models[kind] = fit_logistic(np.stack([features(it) for it in train]), np.array([it.label for it in train], float))
    clf = {id(it): float(models[it.kind](features(it))) for it in stdlib + site}

    def report(items: list[Item]) -> dict:
        labels = [it.label for it in items]
        cats: dict[str, list[float]] = {}
        for it in items:
            cats.setdefault(it.category, []).append(rule[id(it)])
        return {"n": len(items), "auroc_rules": round(auroc([rule[id(it)] for it in items], labels), 4),
                "auroc_classifier": round(auroc([clf[id(it)] for it in items], labels), 4),
                "pass_at_0.5": {c: f"{sum(s >= 0.5 for s in v)}/{len(v)}" for c, v in cats.items()},
                "median": {c: round(float(np.median(v)), 3) for c, v in cats.items()}}

    print(json.dumps({"build_seconds": round(t_build, 1), "score_seconds": round(t_score, 1),
                      "docs_per_s": round(len(rule) / t_score),
                      "stdlib_all": report(stdlib),
                      "stdlib_test": report([it for it in stdlib if it.split == "test"]),
                      "site_packages": report(site)}, indent=1))


if __name__ == "__main__":
    main()
