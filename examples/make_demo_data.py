"""Regenerate the mini datasets (synthetic, in the official MMLU, GSM8K, HumanEval, C-Eval and MATH layouts).

    python examples/make_demo_data.py
"""
from pathlib import Path

from compass.synthetic import write_ceval, write_gsm8k, write_humaneval, write_math, write_mmlu

HERE = Path(__file__).parent
write_mmlu(HERE / "data" / "mmlu-mini", n_dev=5, n_val=5, n_test=25)
write_gsm8k(HERE / "data" / "gsm8k-mini", n_train=8, n_test=40)
write_humaneval(HERE / "data" / "humaneval-mini" / "HumanEval.jsonl", n=20)
write_ceval(HERE / "data" / "ceval-mini")
write_math(HERE / "data" / "math-mini", n_train=4, n_test=5)
print("wrote", HERE / "data")
