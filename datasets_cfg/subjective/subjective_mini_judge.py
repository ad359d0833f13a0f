# Open-ended questions graded by an LLM judge (docs/subjective.md): each answer rated 1-10 on a
# rubric, the rating mapped onto [0, 1]. The judge is any model config; here one served by an
# OpenAI-compatible server, its key read from $OPENAI_API_KEY (never written in a config).
subjective_judge = dict(abbr="judge", type="OpenAI", path="gpt-4o-mini", chat=True, max_out_len=512,
                        batch_size=8, api_key_env="OPENAI_API_KEY")

subjective_reader_cfg = dict(input_columns=["question"], output_column="reference")
subjective_infer_cfg = dict(prompt_template=dict(template="{question}"),
                            inferencer=dict(type="GenInferencer", max_out_len=512))

subjective_single_datasets = [
    dict(abbr="subjective-mini-single", type="SubjectiveDataset", path="datasets_cfg/subjective/subjective_mini.jsonl",
         reader_cfg=subjective_reader_cfg, infer_cfg=subjective_infer_cfg,
         eval_cfg=dict(evaluator=dict(type="JudgeSingleEvaluator", judge=subjective_judge, rating_range=[1, 10]))),
]
