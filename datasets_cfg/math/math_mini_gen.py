# MATH-format mini set (synthetic, 7 subjects: python examples/make_demo_data.py), 4-shot from the
# train problems of the same subject, greedy generation cut before the next "Problem:". The final
# answer (last \boxed{}, else "The answer is ...") is judged by math_equiv; results break down by
# subject and add accuracy@Level N metrics.
math_reader_cfg = dict(input_columns=["problem"], output_column="solution", train_split="train", test_split="test")

math_infer_cfg = dict(
    ice_template=dict(template="Problem:\n{problem}\nSolution:\n{solution}\n\n"),
    prompt_template=dict(template="Problem:\n{problem}\nSolution:\n"),
    retriever=dict(type="FixKRetriever", fix_id_list=[0, 1, 2, 3]),
    inferencer=dict(type="GenInferencer", max_out_len=96, stop=["\n\nProblem:", "\nProblem:"]),
)
math_eval_cfg = dict(evaluator=dict(type="MATHEvaluator"), pred_postprocessor=dict(type="math_answer"))

math_datasets = [
    dict(abbr="math-mini", type="math", path="examples/data/math-mini", reader_cfg=math_reader_cfg,
         infer_cfg=math_infer_cfg, eval_cfg=math_eval_cfg),
]
