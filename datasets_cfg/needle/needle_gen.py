# Needle in a haystack for long-context models: contexts of 1k-32k tokens x needle depths 0-100% in
# steps of 10, 3 samples (different needles) per cell: 198 single-needle samples, and 198 asking
# for 3 needles spread from the cell's depth to the end. Greedy; the whole answer is searched for
# the value(s).
#
# Lengths count tokens of `tokenizer_path`: set it to the model under test's path (below: the
# InternLM2-20B of models_cfg/hf_internlm2_20b.py), e.g.
#   datasets = [dict(d, needle_cfg=dict(d["needle_cfg"], tokenizer_path="Qwen/Qwen2.5-7B")) for d in needle_datasets]
# and give the model a `max_seq_len` above the longest context plus the prompt (33000 here):
# longer prompts lose tokens from the left, which would cut the start of the document.
from mmengine.config import read_base

with read_base():
    from .needle_mini_gen import needle_eval_cfg, needle_infer_cfg, needle_multi_infer_cfg, needle_reader_cfg

# Real models answer in a sentence ("The secret code of the ... vault is ..."): allow for it.
_infer_cfg = dict(needle_infer_cfg, inferencer=dict(needle_infer_cfg["inferencer"], max_out_len=48))
_multi_infer_cfg = dict(needle_multi_infer_cfg, inferencer=dict(needle_multi_infer_cfg["inferencer"], max_out_len=96))

needle_grid = dict(tokenizer_path="internlm/internlm2-20b", tokenizer_kwargs=dict(trust_remote_code=True),
                   lengths=[1000, 2000, 4000, 8000, 16000, 32000],
                   depths=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], num_samples=3)

needle_datasets = [
    dict(abbr="needle", type="needle", path="synthetic", reader_cfg=needle_reader_cfg,
         needle_cfg=needle_grid, infer_cfg=_infer_cfg, eval_cfg=needle_eval_cfg),
    dict(abbr="needle-multi3", type="needle", path="synthetic", reader_cfg=needle_reader_cfg,
         needle_cfg=dict(needle_grid, num_needles=3), infer_cfg=_multi_infer_cfg, eval_cfg=needle_eval_cfg),
]
