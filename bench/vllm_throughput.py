"""Generation throughput of the VLLM backend through the suite vs vLLM's own offline ``LLM.generate``
on the same prompts (token ids), the same sampling settings and the same engine settings.

Run with the vLLM environment's Python (docs/scale-out.md), from the repo root:
    ~/.cache/compass/vllm-venv/bin/python bench/vllm_throughput.py --work-dir /tmp/vllm-bench

The suite side is a whole ``compass run`` (GSM8K-format generation, greedy) timed by the run itself:
its result's ``infer_s`` is the inference loop (prompting, batching, writing and fsyncing
predictions), not the model load. The vLLM side is a fresh process, like the suite's worker: one
``LLM.generate`` over every prompt (the suite's own token ids, read back from its predictions),
timed on its first call (what a fresh worker pays) and again warm. Generated tokens per second;
each pair runs ``--repeat`` times, alternating, each on a machine as quiet as 120 s of waiting
allows, and the best of each is kept (other processes can only slow a run down). Both sides must
produce the same completions.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from quiet import children_cpu_s, cpu_busy_s, wait_idle  # noqa: E402

MODEL = REPO / "examples" / "assets" / "reference-demo"
ENV = {"OMP_NUM_THREADS": "1", "VLLM_CPU_KVCACHE_SPACE": "4", "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
       "VLLM_CPU_OMP_THREADS_BIND": "nobind", "HF_HUB_OFFLINE": "1"}
MAX_SEQ_LEN, MAX_OUT_LEN, STOP = 256, 96, ["\n\n", "Question:"]


def write_config(work: Path, n: int, batch_size: int) -> Path:
    from compass.synthetic import write_gsm8k

    data = write_gsm8k(work / "gsm8k", n_train=8, n_test=n)
    model = dict(abbr="vllm", type="VLLM", path=str(MODEL), dtype="float32", max_seq_len=MAX_SEQ_LEN,
                 max_out_len=MAX_OUT_LEN, batch_size=batch_size, model_kwargs=dict(enforce_eager=True))
    dataset = dict(abbr="gsm8k", type="gsm8k", path=str(data), reader_cfg=dict(train_split="train"),
                   infer_cfg=dict(ice_template=dict(template="Question: {question}\nAnswer: {answer}\n\n"),
                                  prompt_template=dict(template="Question: {question}\nAnswer:"),
                                  retriever=dict(type="FixKRetriever", fix_id_list=[0, 1]),
                                  inferencer=dict(type="GenInferencer", max_out_len=MAX_OUT_LEN, stop=STOP)),
                   eval_cfg=dict(evaluator=dict(type="Gsm8kEvaluator"), pred_postprocessor=dict(type="gsm8k")))
    path = work / f"bench_b{batch_size}.py"
    path.write_text(f"models = [{model!r}]\ndatasets = [{dataset!r}]\n")
    return path


def quietly(argv: list[str], max_wait: float) -> tuple[subprocess.CompletedProcess, float]:
    """Run a command once the machine is quiet (waiting up to ``max_wait`` s); the cores other
    processes used meanwhile."""
    wait_idle(max_wait)
    b0, c0, t0 = cpu_busy_s(), children_cpu_s(), time.perf_counter()
    proc = subprocess.run(argv, env={**os.environ, **ENV}, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return proc, max(0.0, (cpu_busy_s() - b0) - (children_cpu_s() - c0)) / wall


def suite(cfg: Path, work: Path, max_wait: float) -> dict:
    """One ``compass run``: its inference loop's seconds, generated tokens and completions."""
    out = work / "runs"
    before = set(out.glob("*/*"))
    _, other = quietly([sys.executable, "-m", "compass.cli", "run", str(cfg), "-w", str(out), "--quiet"], max_wait)
    (run,) = set(out.glob("*/*")) - before
    result = json.loads((run / "results" / "vllm" / "gsm8k.json").read_text())
    preds = [json.loads(line) for line in (run / "predictions" / "vllm" / "gsm8k.jsonl").read_text().splitlines()]
    return {"seconds": result["timing"]["infer_s"], "tokens": sum(p["completion_tokens"] for p in preds),
            "texts": {p["id"]: p["prediction"] for p in preds}, "run": str(run), "other_cores": other}


def offline(run: Path, max_wait: float) -> dict:
    """vLLM's own engine in a fresh process, as the suite's worker is: one ``LLM.generate`` over the
    suite's prompts (tokenised as the suite did), then the same call again on the warm engine."""
    proc, other = quietly([sys.executable, __file__, "--offline", str(run)], max_wait)
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "other_cores": other}


def offline_main(run: Path) -> None:
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    from compass.models.base import cut_at_stop
    from compass.models.tokens import PromptEncoder

    llm = LLM(model=str(MODEL), dtype="float32", max_model_len=MAX_SEQ_LEN, enable_prefix_caching=True, seed=0,
              enforce_eager=True)
    preds = [json.loads(line) for line in (run / "predictions" / "vllm" / "gsm8k.jsonl").read_text().splitlines()]
    encoder = PromptEncoder(AutoTokenizer.from_pretrained(MODEL), False, MAX_SEQ_LEN, None)
    ids = encoder.encode([encoder.format(p["prompt"]) for p in preds])
    prompts = [TokensPrompt(prompt_token_ids=x[-(MAX_SEQ_LEN - MAX_OUT_LEN):]) for x in ids]
    params = SamplingParams(max_tokens=MAX_OUT_LEN, temperature=0.0, stop=STOP)
    timings = []
    for _ in range(2):  # first call (what a fresh worker pays), then warm
        began = time.perf_counter()
        outputs = llm.generate(prompts, params, use_tqdm=False)
        timings.append(time.perf_counter() - began)
    print(json.dumps({"seconds": timings[0], "warm_seconds": timings[1],
                      "tokens": sum(len(o.outputs[0].token_ids) for o in outputs),
                      "texts": {p["id"]: cut_at_stop(o.outputs[0].text, tuple(STOP)) for p, o in zip(preds, outputs)}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--offline", type=Path, help=argparse.SUPPRESS)  # the vLLM side, in its own process
    parser.add_argument("-n", type=int, default=200, help="prompts")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 200])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-wait", type=float, default=120.0, help="seconds to wait for quiet before each run")
    args = parser.parse_args()
    os.environ.update(ENV)
    if args.offline:
        offline_main(args.offline)
        return
    args.work_dir.mkdir(parents=True, exist_ok=True)
    for batch_size in args.batch_sizes:
        cfg = write_config(args.work_dir, args.n, batch_size)
        rows = []
        for _ in range(args.repeat):  # alternating, so slow spells of the machine hit both sides
            s, o = suite(cfg, args.work_dir, args.max_wait), None
            o = offline(Path(s["run"]), args.max_wait)
            same = sum(s["texts"][i] == o["texts"][i] for i in s["texts"])
            print(f"batch_size {batch_size}: suite {s['tokens']} tokens in {s['seconds']:.2f} s "
                  f"({s['other_cores']:.2f} other cores); LLM.generate {o['tokens']} tokens in {o['seconds']:.2f} s "
                  f"first call, {o['warm_seconds']:.2f} s warm ({o['other_cores']:.2f} other cores); "
                  f"identical completions {same}/{len(s['texts'])}", flush=True)
            rows.append((s["tokens"] / s["seconds"], o["tokens"] / o["seconds"], o["tokens"] / o["warm_seconds"]))
        suite_best, first_best, warm_best = (max(r[k] for r in rows) for k in range(3))
        print(f"BEST batch_size {batch_size}: suite {suite_best:.0f} tok/s; LLM.generate {first_best:.0f} tok/s first "
              f"call (ratio {suite_best / first_best:.2f}), {warm_best:.0f} tok/s warm (ratio {suite_best / warm_best:.2f})",
              flush=True)


if __name__ == "__main__":
    main()
