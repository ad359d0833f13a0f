# Needle in a haystack, mini grid for the bundled reference model (and the tests' tiny model):
# contexts of 128-512 tokens, needles at depths 0/50/100%, 2 samples (different needles) per cell;
# one single-needle dataset and one asking for 3 needles at once. The haystack is the built-in
# synthetic prose (path "synthetic"); lengths and depths count tokens of `tokenizer_path`, so point
# it at the model under test: dict(d, needle_cfg=dict(d["needle_cfg"], tokenizer_path=...)).
needle_reader_cfg = dict(input_columns=["context", "question"])

needle_infer_cfg = dict(
    prompt_template=dict(template="Read the document and answer the question at the end.\n\nDocument:\n{context}\n\n"
                                  "Question: {question} Answer with the number only.\nAnswer:"),
    inferencer=dict(type="GenInferencer", max_out_len=12, stop=["\n\n"]),
)
needle_multi_infer_cfg = dict(
    prompt_template=dict(template="Read the document and answer the question at the end.\n\nDocument:\n{context}\n\n"
                                  "Question: {question} Answer with the numbers only.\nAnswer:"),
    inferencer=dict(type="GenInferencer", max_out_len=32, stop=["\n\n"]),
)
# The whole generation is searched for the value(s): no answer extraction needed.
needle_eval_cfg = dict(evaluator=dict(type="NeedleEvaluator"))

needle_mini_grid = dict(tokenizer_path="examples/assets/reference-demo", lengths=[128, 256, 512],
                        depths=[0, 50, 100], num_samples=2)

needle_datasets = [
    dict(abbr="needle-mini", type="needle", path="synthetic", reader_cfg=needle_reader_cfg,
         needle_cfg=needle_mini_grid, infer_cfg=needle_infer_cfg, eval_cfg=needle_eval_cfg),
    dict(abbr="needle-multi3-mini", type="needle", path="synthetic", reader_cfg=needle_reader_cfg,
         needle_cfg=dict(needle_mini_grid, num_needles=3), infer_cfg=needle_multi_infer_cfg,
         eval_cfg=needle_eval_cfg),
]
