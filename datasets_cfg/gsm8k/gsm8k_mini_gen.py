# GSM8K-format mini set (synthetic), 4-shot chain of thought from the train split, greedy
# generation, the final number extracted and compared numerically.
gsm8k_reader_cfg = dict(input_columns=["question"], output_column="answer", train_split="train", test_split="test")

gsm8k_infer_cfg = dict(
    ice_template=dict(template="Question: {question}\nAnswer: {answer}\n\n"),
    prompt_template=dict(template="Question: {question}\nAnswer:"),
    retriever=dict(type="FixKRetriever", fix_id_list=[0, 1, 2, 3]),
    inferencer=dict(type="GenInferencer", max_out_len=96, stop=["\n\n", "Question:"]),
)
gsm8k_eval_cfg = dict(evaluator=dict(type="Gsm8kEvaluator"), pred_postprocessor=dict(type="gsm8k"))

gsm8k_datasets = [
    dict(abbr="gsm8k-mini", type="gsm8k", path="examples/data/gsm8k-mini", reader_cfg=gsm8k_reader_cfg,
         infer_cfg=gsm8k_infer_cfg, eval_cfg=gsm8k_eval_cfg),
]
