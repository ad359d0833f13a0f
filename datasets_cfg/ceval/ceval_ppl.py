# C-Eval (52 subjects), one dataset per subject ("ceval-<subject>"), scored on val (the test split's
# answers are not public), 5-shot from dev, log-likelihood of " A" .. " D". `path` is the hub name;
# point it at a local copy of the official layout ({dev,val,test}/<subject>_<split>.csv) to run
# offline. Category, Hard and overall rows: summarizer = dict(summary_groups=ceval_summary_groups).
from mmengine.config import read_base

with read_base():
    from ...summarizers.ceval import ceval_subjects, ceval_summary_groups
    from .ceval_mini_ppl import ceval_eval_cfg, ceval_infer_cfg, ceval_reader_cfg

ceval_datasets = [
    dict(abbr=f"ceval-{subject}", type="ceval", path="ceval/ceval-exam", name=subject,
         reader_cfg=ceval_reader_cfg, infer_cfg=ceval_infer_cfg, eval_cfg=ceval_eval_cfg)
    for subject in ceval_subjects
]
