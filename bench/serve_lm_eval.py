"""lm-evaluation-harness against ``refmodel serve``: its own ``local-completions`` model over the API
vs its ``hf`` model on the same checkpoint, sample by sample.

    python bench/serve_lm_eval.py [--ckpt examples/assets/reference-demo] [--work-dir /tmp/serve-lm-eval]
                                  [--venv ~/.cache/compass-bench/lm-eval-venv] [--json out.json]

lm-eval 0.4.13 runs from its own venv (``bench/lm_eval_side.py`` builds it; the ``api`` extra is
added for ``local-completions``), offline, on two tasks generated from the repo's mini sets:
a log-likelihood multiple-choice task (MMLU format, 5-shot, choices " A".." D") and a generation
task (GSM8K format, 4-shot, greedy, 96 tokens, until "\\n\\n" / "Question:"). Both models run
with ``add_bos_token=True`` and fp32. ``local-completions`` tokenises itself and sends token-id
prompts with ``echo``, ``logprobs=1`` and ``max_tokens=1`` (its log-likelihood requests) in
batches of ``--api-batch`` prompts, ``--concurrent`` requests at once.

Checked per sample: log-likelihoods within ``--tol`` (1e-4) and the same argmax; generations
identical. The result (and the server's prefix-cache counters) is printed and goes to ``--json``;
docs/benchmarks.md records a run under "lm-evaluation-harness over `refmodel serve`".
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import lm_eval_side as side  # noqa: E402

STOP = ["\n\n", "Question:"]


def ensure_api_extra(venv: Path) -> None:
    py = str(venv / "bin" / "python")
    if subprocess.run([py, "-c", "import tenacity, aiohttp"], capture_output=True).returncode != 0:
        constraints = venv / "constraints.txt"
        constraints.write_text(f"torch=={side.TORCH_VERSION}\n")
        subprocess.run([py, "-m", "pip", "install", "-q", f"lm-eval[api]=={side.LM_EVAL_VERSION}", "-c",
                        str(constraints)], check=True)


def lm_eval(venv: Path, model: str, model_args: str, tasks: str, include: Path, out: Path, batch: int, log: Path) -> float:
    cmd = [str(venv / "bin" / "lm_eval"), "run", "--model", model, "--model_args", model_args, "--tasks", tasks,
           "--include_path", str(include), "--batch_size", str(batch), "--output_path", str(out), "--log_samples"]
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, **side.OFFLINE}, cwd=out.parent)
    if rc.returncode:
        raise SystemExit(f"lm-eval {model} failed (exit {rc.returncode}); see {log}")
    return time.perf_counter() - start


def start_server(ckpt: Path, name: str) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "reference_model.cli", "serve", str(ckpt), "--port", "0", "--name", name,
           "--max-model-len", "1024", "--threads", "1"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        raise SystemExit(f"server did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[-1].strip()


def compare(hf: dict[str, dict], api: dict[str, dict], tol: float) -> dict:
    assert hf.keys() == api.keys(), "the two runs scored different samples"
    out = {"samples": len(hf), "prompts_identical": sum(hf[k]["prompt"] == api[k]["prompt"] for k in hf)}
    if any("scores" in r for r in hf.values()):
        diffs = [abs(a - b) for k in hf for a, b in zip(hf[k]["scores"], api[k]["scores"])]
        argmax = sum(max(range(4), key=hf[k]["scores"].__getitem__) == max(range(4), key=api[k]["scores"].__getitem__)
                     for k in hf)
        out.update(max_abs_diff=max(diffs), within_tol=all(d <= tol for d in diffs), same_argmax=argmax,
                   accuracy_hf=sum(r["metrics"]["acc"] for r in hf.values()) / len(hf),
                   accuracy_api=sum(r["metrics"]["acc"] for r in api.values()) / len(api))
    else:
        out.update(identical=sum(hf[k]["generation"] == api[k]["generation"] for k in hf),
                   exact_match_hf=sum(r["metrics"]["exact_match"] for r in hf.values()) / len(hf),
                   exact_match_api=sum(r["metrics"]["exact_match"] for r in api.values()) / len(api))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", type=Path, default=REPO / "examples" / "assets" / "reference-demo")
    p.add_argument("--work-dir", type=Path, default=Path("/tmp/serve-lm-eval"))
    p.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "compass-bench" / "lm-eval-venv")
    p.add_argument("--api-batch", type=int, default=4, help="prompts per API request (lm-eval's batch_size)")
    p.add_argument("--concurrent", type=int, default=4, help="lm-eval's num_concurrent")
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    versions = side.ensure_venv(args.venv)
    ensure_api_extra(args.venv)
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    mc_tag = side.write_mmlu_tasks(REPO / "examples" / "data" / "mmlu-mini", work, "mc_letters")
    gen_tag = side.write_gsm8k_task(REPO / "examples" / "data" / "gsm8k-mini", work, 96, STOP)
    tasks, include = f"{mc_tag},{gen_tag}", work / "tasks"
    ckpt = args.ckpt.resolve()
    hf_s = lm_eval(args.venv, "hf", f"pretrained={ckpt},dtype=float32,add_bos_token=True,max_length=1024", tasks, include,
                   work / "out-hf", 16, work / "hf.log")
    proc, url = start_server(ckpt, "reference-demo")
    try:
        api_args = (f"base_url={url}/completions,model=reference-demo,tokenizer={ckpt},tokenizer_backend=huggingface,"
                    f"add_bos_token=True,num_concurrent={args.concurrent},max_retries=3,max_length=1024")
        api_s = lm_eval(args.venv, "local-completions", api_args, tasks, include, work / "out-api", args.api_batch,
                        work / "api.log")
        with urllib.request.urlopen(url.removesuffix("/v1") + "/metrics") as r:
            from reference_model.serve.metrics import parse
            served = {k.split(":", 1)[1]: v for k, v in parse(r.read().decode()).items()
                      if k.split(":", 1)[1] in ("prompt_tokens_total", "prompt_tokens_cached_total",
                                                 "generation_tokens_total", "engine_steps_total")}
    finally:
        proc.terminate()
        proc.wait(60)
    result: dict = {"date": datetime.date.today().isoformat(), "lm_eval": versions, "ckpt": str(args.ckpt),
              "wall_s": {"hf": round(hf_s, 1), "local-completions": round(api_s, 1)}, "server": served,
              "multiple_choice": compare(side.read_samples(work / "out-hf", mc_tag), side.read_samples(work / "out-api", mc_tag),
                                         args.tol),
              "generation": compare(side.read_samples(work / "out-hf", gen_tag), side.read_samples(work / "out-api", gen_tag),
                                    args.tol),
              "command": "python bench/serve_lm_eval.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    ok = result["multiple_choice"]["within_tol"] and result["multiple_choice"]["same_argmax"] == \
        result["multiple_choice"]["samples"] and result["generation"]["identical"] == result["generation"]["samples"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
