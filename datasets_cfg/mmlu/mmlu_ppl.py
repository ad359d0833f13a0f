# MMLU (57 subjects), 5-shot from dev, log-likelihood of " A" .. " D". `path` is the hub name;
# point it at a local copy of the official layout (data/{dev,val,test}/<subject>_<split>.csv)
# to run offline.
from mmengine.config import read_base

with read_base():
    from .mmlu_mini_ppl import mmlu_eval_cfg, mmlu_infer_cfg, mmlu_reader_cfg

mmlu_datasets = [
    dict(abbr="mmlu", type="mmlu", path="cais/mmlu", reader_cfg=mmlu_reader_cfg,
         infer_cfg=mmlu_infer_cfg, eval_cfg=mmlu_eval_cfg),
]
