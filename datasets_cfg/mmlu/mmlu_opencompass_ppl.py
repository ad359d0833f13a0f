# MMLU as OpenCompass 0.5 asks it (configs/datasets/mmlu/mmlu_ppl.py, i.e. mmlu_ppl_ac766d): per
# subject "The following are multiple choice questions (with answers) about  <subject>.\n\n" (two
# spaces before the subject, as OpenCompass writes it), the first 5 dev questions each ending
# "Answer: <letter>\n\n", then the question as written and "Answer:". OpenCompass scores each full text
# "...Answer: A" (average loss of the whole sequence); here " A" .. " D" are scored after the prompt.
_question = "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"

mmlu_opencompass_reader_cfg = dict(input_columns=["question", "A", "B", "C", "D"], output_column="answer",
                                   train_split="dev", test_split="test")
mmlu_opencompass_infer_cfg = dict(
    ice_template=dict(template=_question + " {gold}\n\n"),
    prompt_template=dict(begin="The following are multiple choice questions (with answers) about  {subject}.\n\n",
                         template=_question),
    retriever=dict(type="FixKRetriever", fix_id_list=[0, 1, 2, 3, 4]),
    inferencer=dict(type="PPLInferencer", choices=["A", "B", "C", "D"], continuation=" {label}"),
)

mmlu_datasets = [
    dict(abbr="mmlu_opencompass", type="mmlu", path="cais/mmlu", reader_cfg=mmlu_opencompass_reader_cfg,
         infer_cfg=mmlu_opencompass_infer_cfg, eval_cfg=dict(evaluator=dict(type="AccEvaluator")),
         prompt_preset="opencompass"),
]
