# C-Eval-format mini set (synthetic, 8 subjects: python examples/make_demo_data.py), one dataset per
# subject, scored on val, 5-shot from dev, each choice scored by the log-likelihood of " A" .. " D"
# after "答案：". Category rows: summarizer = dict(summary_groups=ceval_mini_summary_groups).
from mmengine.config import read_base

with read_base():
    from ...summarizers.ceval import ceval_mini_summary_groups, ceval_mini_val_counts

ceval_reader_cfg = dict(input_columns=["question", "A", "B", "C", "D"], output_column="answer",
                        train_split="dev", test_split="val")  # the test split has no public answers

_question = "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n答案："
ceval_infer_cfg = dict(
    ice_template=dict(template=_question + " {gold}\n\n"),
    prompt_template=dict(begin="以下是中国关于{subject_zh}考试的单项选择题，请选出其中的正确答案。\n\n",
                         template=_question),
    retriever=dict(type="FixKRetriever", fix_id_list=[0, 1, 2, 3, 4]),
    inferencer=dict(type="PPLInferencer", choices=["A", "B", "C", "D"], continuation=" {label}"),
)
ceval_eval_cfg = dict(evaluator=dict(type="AccEvaluator"))

ceval_datasets = [
    dict(abbr=f"ceval-mini-{subject}", type="ceval", path="examples/data/ceval-mini", name=subject,
         reader_cfg=ceval_reader_cfg, infer_cfg=ceval_infer_cfg, eval_cfg=ceval_eval_cfg)
    for subject in ceval_mini_val_counts
]
