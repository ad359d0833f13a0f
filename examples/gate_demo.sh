#!/usr/bin/env bash
# A training-CI gate in miniature: evaluate a baseline checkpoint and a candidate, then let
# `compass gate` decide. Here the candidate is a deliberately degraded copy of the reference model.
#   bash examples/gate_demo.sh [NOISE]      (run from the repository root)
# NOISE is a fraction of each weight's std (default 0.5: GSM8K-format collapses, MMLU-format drops
# 40 -> 34, too little for 100 questions to show); 1.0 takes the MMLU-format set to chance (40 -> 22).
set -euo pipefail
cd "$(dirname "$0")/.."
NOISE="${1:-0.5}"
OUT=outputs/gate-demo
rm -rf "$OUT" && mkdir -p "$OUT"
python examples/degrade_checkpoint.py examples/assets/reference-demo "$OUT/degraded-checkpoint" --noise "$NOISE"
compass run examples/eval_demo.py -w "$OUT/baseline"
compass run examples/gate_candidate.py -w "$OUT/candidate"
set +e
compass gate --baseline "$OUT"/baseline/eval_demo/* --candidate "$OUT"/candidate/gate_candidate/* \
  --max-drop 1 --markdown "$OUT/gate.md" --json "$OUT/gate.json" --junit "$OUT/gate.xml"
status=$?
set -e
echo "compass gate exit code: $status (0 pass, 1 regression, 2 bad input); report: $OUT/gate.md"
exit "$status"
