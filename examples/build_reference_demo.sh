#!/usr/bin/env bash
# Rebuild examples/assets/reference-demo/ (the small CPU reference model the suite's demo ships).
# data -> tokenizer -> pretrain -> export (fp16 safetensors) -> held-out sanity scores -> README.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-outputs/reference-demo}"
# --threads 1: the shipped weights were trained single-threaded (bit-reproducible on CPU).
python -m reference_model.cli demo --out "$OUT" --asset-dir examples/assets/reference-demo --threads 1 "${@:2}"
