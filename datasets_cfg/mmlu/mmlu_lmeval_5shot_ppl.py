# MMLU as lm-evaluation-harness 0.4 asks it with `--num_fewshot 5` (the setting most published lm-eval
# MMLU numbers use): mmlu_lmeval_ppl.py's prompt after the first 5 dev questions of the subject
# (lm-eval's `first_n` sampler), each followed by " <letter>\n\n".
from mmengine.config import read_base

with read_base():
    from .mmlu_lmeval_ppl import mmlu_lmeval_eval_cfg, mmlu_lmeval_infer_cfg, mmlu_lmeval_reader_cfg

mmlu_datasets = [
    dict(abbr="mmlu_lmeval_5shot", type="mmlu", path="cais/mmlu", reader_cfg=mmlu_lmeval_reader_cfg,
         infer_cfg=dict(mmlu_lmeval_infer_cfg, retriever=dict(type="FixKRetriever", fix_id_list=[0, 1, 2, 3, 4])),
         eval_cfg=mmlu_lmeval_eval_cfg, prompt_preset="lm-eval"),
]
