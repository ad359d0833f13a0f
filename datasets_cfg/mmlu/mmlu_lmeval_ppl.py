# MMLU as lm-evaluation-harness 0.4 asks it (task `mmlu`, no --num_fewshot: zero-shot): per subject
# "The following are multiple choice questions (with answers) about <subject>.\n\n", the question
# stripped, "A. .." to "D. ..", "Answer:", each choice scored as " A" .. " D". Prompts are byte-identical
# to lm-eval's (bench/prompts_vs_peers.py); every result names the preset and a hash of its prompts.
# For the common 5-shot setting (`--num_fewshot 5`) use mmlu_lmeval_5shot_ppl.py.
_question = "{question_stripped}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"

mmlu_lmeval_reader_cfg = dict(input_columns=["question", "A", "B", "C", "D"], output_column="answer",
                              train_split="dev", test_split="test")
mmlu_lmeval_infer_cfg = dict(
    ice_template=dict(template=_question + " {gold}\n\n"),
    prompt_template=dict(begin="The following are multiple choice questions (with answers) about {subject}.\n\n",
                         template=_question),
    retriever=dict(type="ZeroRetriever"),
    inferencer=dict(type="PPLInferencer", choices=["A", "B", "C", "D"], continuation=" {label}"),
)
mmlu_lmeval_eval_cfg = dict(evaluator=dict(type="AccEvaluator"))

mmlu_datasets = [
    dict(abbr="mmlu_lmeval", type="mmlu", path="cais/mmlu", reader_cfg=mmlu_lmeval_reader_cfg,
         infer_cfg=mmlu_lmeval_infer_cfg, eval_cfg=mmlu_lmeval_eval_cfg, prompt_preset="lm-eval"),
]
