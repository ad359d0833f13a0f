"""Synthetic mini benchmarks in the official on-disk layouts (MMLU, GSM8K, HumanEval, C-Eval, MATH).

The project never ships benchmark contents; tests and the demo use items generated here from
templates. Every item has a stable key; a hash of the key assigns it to exactly one split, so the
``train`` items (which the reference model may learn from) never overlap the ``test`` items.
The knowledge the fact questions ask about is stated in :func:`facts_corpus`.
"""
from compass.synthetic.ceval import CEVAL_MINI_VAL_COUNTS, CevalItem, ceval_items, write_ceval
from compass.synthetic.common import LETTERS, SPLITS, McItem, split_of
from compass.synthetic.gsm8k import gsm8k_items, write_gsm8k
from compass.synthetic.humaneval import humaneval_items, write_humaneval
from compass.synthetic.math_problems import MATH_TYPES, math_items, write_math
from compass.synthetic.mmlu import MMLU_SUBJECTS, facts_corpus, mmlu_items, write_mmlu

__all__ = ["CEVAL_MINI_VAL_COUNTS", "LETTERS", "MATH_TYPES", "MMLU_SUBJECTS", "SPLITS", "CevalItem", "McItem",
           "ceval_items", "facts_corpus", "gsm8k_items", "humaneval_items", "math_items", "mmlu_items", "split_of",
           "write_ceval", "write_gsm8k", "write_humaneval", "write_math", "write_mmlu"]
