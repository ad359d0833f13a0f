# C-Eval as lm-evaluation-harness 0.4 asks it with `--num_fewshot 5`: ceval_lmeval_ppl.py's prompt after
# the first 5 dev questions of the subject (lm-eval's `first_n` sampler), each followed by " <letter>\n\n".
from mmengine.config import read_base

with read_base():
    from ...summarizers.ceval import ceval_subjects
    from .ceval_lmeval_ppl import ceval_lmeval_eval_cfg, ceval_lmeval_infer_cfg, ceval_lmeval_reader_cfg

ceval_datasets = [
    dict(abbr=f"ceval_lmeval_5shot-{subject}", type="ceval", path="ceval/ceval-exam", name=subject,
         reader_cfg=ceval_lmeval_reader_cfg,
         infer_cfg=dict(ceval_lmeval_infer_cfg, retriever=dict(type="FixKRetriever", fix_id_list=[0, 1, 2, 3, 4])),
         eval_cfg=ceval_lmeval_eval_cfg, prompt_preset="lm-eval")
    for subject in ceval_subjects
]
