# HumanEval-format mini set (synthetic programming tasks, see compass.synthetic.write_humaneval),
# zero-shot: the model continues the function from its signature and docstring, greedy. Each
# completion runs against the task's tests in the sandbox; the score is pass@1.
humaneval_reader_cfg = dict(input_columns=["prompt"], output_column="entry_point", test_split="test")

humaneval_infer_cfg = dict(
    prompt_template=dict(template="{prompt}"),
    retriever=dict(type="ZeroRetriever"),
    # A function body ends where a new top-level statement starts (the usual HumanEval stops).
    inferencer=dict(type="GenInferencer", max_out_len=128,
                    stop=["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\n```"]),
)
humaneval_eval_cfg = dict(evaluator=dict(type="HumanEvalEvaluator", timeout_s=None),
                          pred_postprocessor=dict(type="humaneval"))

humaneval_datasets = [
    dict(abbr="humaneval-mini", type="humaneval", path="examples/data/humaneval-mini/HumanEval.jsonl",
         reader_cfg=humaneval_reader_cfg, infer_cfg=humaneval_infer_cfg, eval_cfg=humaneval_eval_cfg),
]
