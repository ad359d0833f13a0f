# C-Eval as lm-evaluation-harness 0.4 asks it (group `ceval-valid`, no --num_fewshot: zero-shot), one
# dataset per subject ("ceval_lmeval-<subject>"), scored on val: "以下是中国关于<中文科目名>的单项选择题，
# 请选出其中的正确答案。\n\n", the question stripped, "A. .." to "D. ..", "答案：", each choice scored as
# " A" .. " D". Prompts are byte-identical to lm-eval's (bench/prompts_vs_peers.py). 5-shot:
# ceval_lmeval_5shot_ppl.py.
from mmengine.config import read_base

with read_base():
    from ...summarizers.ceval import ceval_subjects

ceval_lmeval_reader_cfg = dict(input_columns=["question", "A", "B", "C", "D"], output_column="answer",
                               train_split="dev", test_split="val")  # the test split has no public answers

_question = "{question_stripped}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n答案："
ceval_lmeval_infer_cfg = dict(
    ice_template=dict(template=_question + " {gold}\n\n"),
    prompt_template=dict(begin="以下是中国关于{subject_zh}的单项选择题，请选出其中的正确答案。\n\n", template=_question),
    retriever=dict(type="ZeroRetriever"),
    inferencer=dict(type="PPLInferencer", choices=["A", "B", "C", "D"], continuation=" {label}"),
)
ceval_lmeval_eval_cfg = dict(evaluator=dict(type="AccEvaluator"))

ceval_datasets = [
    dict(abbr=f"ceval_lmeval-{subject}", type="ceval", path="ceval/ceval-exam", name=subject,
         reader_cfg=ceval_lmeval_reader_cfg, infer_cfg=ceval_lmeval_infer_cfg, eval_cfg=ceval_lmeval_eval_cfg,
         prompt_preset="lm-eval")
    for subject in ceval_subjects
]
