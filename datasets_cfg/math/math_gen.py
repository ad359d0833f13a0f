# MATH (5,000 test problems, 7 subjects, levels 1-5), 4-shot from the same subject's train problems,
# greedy. `path` is the hub name; point it at a local copy of the official layout
# ({train,test}/<subject>/<n>.json) to run offline. Real solutions are long: 512 new tokens.
from mmengine.config import read_base

with read_base():
    from .math_mini_gen import math_eval_cfg, math_infer_cfg, math_reader_cfg

_infer_cfg = dict(math_infer_cfg, inferencer=dict(math_infer_cfg["inferencer"], max_out_len=512))

math_datasets = [
    dict(abbr="math", type="math", path="EleutherAI/hendrycks_math", reader_cfg=math_reader_cfg,
         infer_cfg=_infer_cfg, eval_cfg=math_eval_cfg),
]
