# C-Eval (52 subjects), generation: one dataset per subject ("ceval-<subject>", the same abbrs as
# ceval_ppl, so use one or the other), scored on val, 5-shot from dev, greedy, the chosen option read
# by `option_letter`, robust to Chinese answers ("答案是 B", "选B", "（B）"). Chat models answer at
# more length than base models: 64 new tokens, cut at the first blank line.
from mmengine.config import read_base

with read_base():
    from ...summarizers.ceval import ceval_subjects, ceval_summary_groups
    from .ceval_mini_gen import ceval_gen_eval_cfg, ceval_gen_infer_cfg
    from .ceval_mini_ppl import ceval_reader_cfg

_infer_cfg = dict(ceval_gen_infer_cfg, inferencer=dict(ceval_gen_infer_cfg["inferencer"], max_out_len=64))

ceval_datasets = [
    dict(abbr=f"ceval-{subject}", type="ceval", path="ceval/ceval-exam", name=subject,
         reader_cfg=ceval_reader_cfg, infer_cfg=_infer_cfg, eval_cfg=ceval_gen_eval_cfg)
    for subject in ceval_subjects
]
