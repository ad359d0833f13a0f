# The mission's benchmarks on InternLM2-20B, for a GPU machine with the weights and the data
# downloaded (or reachable on the hub):  compass run examples/eval_internlm2_20b.py
from mmengine.config import read_base

with read_base():
    from ..datasets_cfg.gsm8k.gsm8k_gen import gsm8k_datasets
    from ..datasets_cfg.mmlu.mmlu_ppl import mmlu_datasets
    from ..models_cfg.hf_internlm2_20b import models

datasets = [*mmlu_datasets, *gsm8k_datasets]
infer = dict(runner=dict(type="LocalRunner", max_num_workers=4, retry=2))
