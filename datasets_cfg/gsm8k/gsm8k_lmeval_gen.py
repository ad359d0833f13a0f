# GSM8K as lm-evaluation-harness 0.4 asks it (task `gsm8k`): 5 shots from train, drawn by lm-eval's
# default sampler (one random stream seeded 1234, 5 draws per test question in order), each shot
# "Question: ..\nAnswer: <the answer field as written, calculator notes and #### N>\n\n", then
# "Question: ..\nAnswer:"; greedy, up to 256 new tokens (lm-eval's default), cut at lm-eval's stop
# strings. Prompts are byte-identical to lm-eval's (bench/prompts_vs_peers.py). The answer is read by
# the suite's extractor ("The answer is", else "####", else the last number), not lm-eval's regexes.
gsm8k_lmeval_reader_cfg = dict(input_columns=["question"], output_column="answer", train_split="train",
                               test_split="test")
gsm8k_lmeval_infer_cfg = dict(
    ice_template=dict(template="Question: {question}\nAnswer: {raw_answer}\n\n"),
    prompt_template=dict(template="Question: {question}\nAnswer:"),
    retriever=dict(type="ContextSampler", k=5, seed=1234),
    inferencer=dict(type="GenInferencer", max_out_len=256, stop=["Question:", "</s>", "<|im_end|>"]),
)
gsm8k_lmeval_eval_cfg = dict(evaluator=dict(type="Gsm8kEvaluator"), pred_postprocessor=dict(type="gsm8k"))

gsm8k_datasets = [
    dict(abbr="gsm8k_lmeval", type="gsm8k", path="openai/gsm8k", name="main", reader_cfg=gsm8k_lmeval_reader_cfg,
         infer_cfg=gsm8k_lmeval_infer_cfg, eval_cfg=gsm8k_lmeval_eval_cfg, prompt_preset="lm-eval"),
]
