# C-Eval-format mini set (synthetic), generation: 5-shot from dev, greedy, the chosen option read from
# the output by `option_letter` (handles "答案是 B", "选B", "（Ｂ）", "The answer is (B)"...).
from mmengine.config import read_base

with read_base():
    from ...summarizers.ceval import ceval_mini_summary_groups, ceval_mini_val_counts
    from .ceval_mini_ppl import ceval_reader_cfg

_question = "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n答案："
ceval_gen_infer_cfg = dict(
    ice_template=dict(template=_question + "{gold}\n\n"),
    prompt_template=dict(begin="以下是中国关于{subject_zh}考试的单项选择题，请选出其中的正确答案。\n\n",
                         template=_question),
    retriever=dict(type="FixKRetriever", fix_id_list=[0, 1, 2, 3, 4]),
    inferencer=dict(type="GenInferencer", max_out_len=16, stop=["\n\n"]),
)
ceval_gen_eval_cfg = dict(evaluator=dict(type="AccEvaluator"), pred_postprocessor=dict(type="option_letter"))

ceval_datasets = [
    dict(abbr=f"ceval-mini-{subject}", type="ceval", path="examples/data/ceval-mini", name=subject,
         reader_cfg=ceval_reader_cfg, infer_cfg=ceval_gen_infer_cfg, eval_cfg=ceval_gen_eval_cfg)
    for subject in ceval_mini_val_counts
]
