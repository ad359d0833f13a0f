# HumanEval (164 tasks), zero-shot completion of each function, checked by running its tests in the
# sandbox. `path` is the hub name; point it at the official HumanEval.jsonl(.gz) to run offline.
#   humaneval_datasets:        greedy, one completion per task: pass@1 (`correct` per task)
#   humaneval_pass10_datasets: 20 samples per task at temperature 0.8: pass@1 and pass@10 (`score` = c/n)
# The stop strings suit base models, which continue the function body. For a chat model (chat=True)
# set stop=[]: it answers with a whole (often fenced) function, which the post-processor handles.
from mmengine.config import read_base

with read_base():
    from .humaneval_mini_gen import humaneval_eval_cfg, humaneval_infer_cfg, humaneval_reader_cfg

# Real solutions are longer than the mini set's: allow 512 new tokens.
_greedy = dict(humaneval_infer_cfg, inferencer=dict(humaneval_infer_cfg["inferencer"], max_out_len=512))
_sampled = dict(humaneval_infer_cfg, inferencer=dict(humaneval_infer_cfg["inferencer"], max_out_len=512,
                                                     num_samples=20, temperature=0.8, top_p=0.95))

humaneval_datasets = [
    dict(abbr="openai_humaneval", type="humaneval", path="openai/openai_humaneval", reader_cfg=humaneval_reader_cfg,
         infer_cfg=_greedy, eval_cfg=humaneval_eval_cfg),
]
humaneval_pass10_datasets = [
    dict(abbr="openai_humaneval_pass10", type="humaneval", path="openai/openai_humaneval",
         reader_cfg=humaneval_reader_cfg, infer_cfg=_sampled,
         eval_cfg=dict(humaneval_eval_cfg, evaluator=dict(humaneval_eval_cfg["evaluator"], k=[1, 10]))),
]
