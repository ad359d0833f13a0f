# GSM8K (1,319 test problems), 4-shot chain of thought, greedy. `path` is the hub name; point it
# at a directory holding the official train.jsonl/test.jsonl to run offline.
from mmengine.config import read_base

with read_base():
    from .gsm8k_mini_gen import gsm8k_eval_cfg, gsm8k_infer_cfg, gsm8k_reader_cfg

# Real GSM8K solutions are longer than the mini set's: allow 512 new tokens.
_infer_cfg = dict(gsm8k_infer_cfg, inferencer=dict(gsm8k_infer_cfg["inferencer"], max_out_len=512))

gsm8k_datasets = [
    dict(abbr="gsm8k", type="gsm8k", path="openai/gsm8k", name="main", reader_cfg=gsm8k_reader_cfg,
         infer_cfg=_infer_cfg, eval_cfg=gsm8k_eval_cfg),
]
