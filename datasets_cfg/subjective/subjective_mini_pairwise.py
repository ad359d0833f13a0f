# Open-ended questions, each answer compared by an LLM judge with the answer of a baseline model of
# the same run (docs/subjective.md), asked in both orders so the judge's position bias cancels.
# The baseline must be one of the config's models: here models_cfg/api_gpt4o_mini.py's abbr.
subjective_judge = dict(abbr="judge", type="OpenAI", path="gpt-4o-mini", chat=True, max_out_len=512,
                        batch_size=8, api_key_env="OPENAI_API_KEY")

subjective_reader_cfg = dict(input_columns=["question"], output_column="reference")
subjective_infer_cfg = dict(prompt_template=dict(template="{question}"),
                            inferencer=dict(type="GenInferencer", max_out_len=512))

subjective_pairwise_datasets = [
    dict(abbr="subjective-mini-pairwise", type="SubjectiveDataset", path="datasets_cfg/subjective/subjective_mini.jsonl",
         reader_cfg=subjective_reader_cfg, infer_cfg=subjective_infer_cfg,
         eval_cfg=dict(evaluator=dict(type="JudgePairwiseEvaluator", judge=subjective_judge, baseline="gpt-4o-mini",
                                      swap=True))),
]
