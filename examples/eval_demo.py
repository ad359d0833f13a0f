# The demo: the bundled reference model on the MMLU- and GSM8K-format mini sets.
#   compass run examples/eval_demo.py
from mmengine.config import read_base

with read_base():
    from ..datasets_cfg.gsm8k.gsm8k_mini_gen import gsm8k_datasets
    from ..datasets_cfg.mmlu.mmlu_mini_ppl import mmlu_datasets
    from ..models_cfg.reference_demo import models

datasets = [*mmlu_datasets, *gsm8k_datasets]
summarizer = dict(dataset_abbrs=["mmlu-mini", "gsm8k-mini"])
