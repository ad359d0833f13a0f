"""The whole reference chain on a CPU, in minutes: data -> tokenizer -> pretrain -> SFT -> DPO ->
serve -> compass over the API -> one leaderboard + HTML report -> compass gate.

    python examples/full_chain.py [--out outputs/full-chain] [--threads 1] [--quick] [--keep]

1. ``reference_model.instruct.build``: instruction conversations (arithmetic with worked answers,
   format following, refusals of blocklisted requests) and chosen/rejected pairs, each with a
   held-out split, plus the held-out sets as compass custom datasets.
2. ``refmodel data``: a pretraining corpus (compass's synthetic train items, a little stdlib text,
   and the worked answers of the *training* instruction items as plain text), tokenizer trained on it.
3. ``refmodel pretrain`` -> base; ``refmodel sft`` from base -> sft; ``refmodel prefer`` from sft
   (reference: sft) -> dpo; each exported with ``refmodel export``.
4. ``refmodel serve`` for each export (three loopback servers), then two ``compass run``s over the
   API: the held-out instructions by chat (``/v1/chat/completions``) and the held-out preference
   pairs by log-likelihood (``/v1/completions`` with echo + logprobs); ``compass report`` merges
   them into one leaderboard and HTML report.
5. ``compass gate`` on the instruction sets: sft as candidate against base (no regression), and
   base against sft (a regression: sft is better beyond reasonable doubt, paired per sample); the
   same for dpo against sft on the preference set. ``chain_summary.json`` holds every number.
6. ``compass contamination`` of the pretraining corpus (its manifest) against every evaluated
   dataset: the share of each held-out set the corpus contains, with a 95% CI
   (``corpus_contamination`` in the summary).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reference_model.instruct.build import build as build_instructions  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
       "TRANSFORMERS_OFFLINE": "1"}
MODEL = {"hidden_size": 128, "n_layers": 4, "n_heads": 4, "n_kv_heads": 2, "max_seq_len": 256}
FULL = {"pretrain_steps": 500, "sft_steps": 300, "dpo_steps": 150, "n_sft": 3000, "n_pairs": 1500, "n_eval": 60}
QUICK = {"pretrain_steps": 40, "sft_steps": 30, "dpo_steps": 10, "n_sft": 400, "n_pairs": 100, "n_eval": 12}
KINDS = ("arith", "format", "refusal")


def sh(*cmd: str, log: Path | None = None, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    t0 = time.perf_counter()
    print(f"$ {' '.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True)
    if log is not None:
        log.write_text(proc.stdout + proc.stderr)
    if proc.returncode not in ok:
        sys.exit(f"failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    print(f"  ... {time.perf_counter() - t0:.1f} s", flush=True)
    return proc


def refmodel(*args: str, log: Path | None = None) -> subprocess.CompletedProcess:
    return sh(sys.executable, "-m", "reference_model.cli", *args, log=log)


def compass(*args: str, log: Path | None = None, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    return sh(sys.executable, "-m", "compass.cli", *args, log=log, ok=ok)


def flags(**kw) -> list[str]:
    return [x for k, v in kw.items() for x in (f"--{k}", json.dumps(v) if isinstance(v, dict) else str(v))]


def pretraining_corpus(out: Path, instr: Path) -> Path:
    """Compass's synthetic train items and stdlib text, plus the training instructions' worked answers."""
    docs = out / "instruction_text.jsonl"
    n = 0
    with docs.open("w") as f:
        for line in (instr / "sft" / "train.jsonl").read_text().splitlines():
            turns = json.loads(line)["messages"]
            for q, a in zip(turns, turns[1:]):
                if q["role"] == "user" and a["role"] == "assistant" and "can't help" not in a["content"]:
                    f.write(json.dumps({"id": f"instr-{n}", "text": f"{q['content']} {a['content']}"}) + "\n")
                    n += 1
    config = {"sources": [{"type": "synthetic", "options": {"mmlu_per_subject": 300, "gsm8k": 1500, "facts_repeats": 2}},
                          {"type": "stdlib", "options": {"max_files": 20}},
                          {"type": "jsonl", "name": "instructions", "path": str(docs)}],
              "clean": {"per_source": {"synthetic": {"max_top_ngram_ratio": 1.0, "max_dup_line_ratio": 1.0,
                                                     "max_digit_ratio": 0.6},
                                       "instructions": {"max_digit_ratio": 0.9, "min_words": 1, "min_chars": 5,
                                                        "max_symbol_ratio": 0.9, "max_top_ngram_ratio": 1.0}}},
              "dedup": {"near": False}, "quality": {"per_source_threshold": {"synthetic": 0.0, "instructions": 0.0}},
              "tokenizer_vocab": 1024, "pack": {"val_fraction": 0.02}}
    (out / "data.json").write_text(json.dumps(config, indent=2))
    refmodel("data", "--config", str(out / "data.json"), "--out", str(out / "data"), log=out / "logs" / "data.log")
    return out / "data"


def instruction_datasets(instr: Path) -> list[dict]:
    out = []
    for kind in KINDS:
        numeric = kind == "arith"
        out.append({"abbr": f"instr-{kind}", "type": "custom", "path": str(instr / "eval" / f"instr_{kind}.jsonl"),
                    "reader_cfg": {"input_columns": ["question"], "output_column": "answer", "id_column": "id"},
                    "infer_cfg": {"prompt_template": {"template": "{question}"}, "retriever": {"type": "ZeroRetriever"},
                                  "inferencer": {"type": "GenInferencer", "max_out_len": 48}},
                    "eval_cfg": {"evaluator": {"type": "Gsm8kEvaluator" if numeric else "AccEvaluator"},
                                 "pred_postprocessor": {"type": "gsm8k" if numeric else "none"}}})
    return out


def preference_dataset(instr: Path) -> dict:
    return {"abbr": "pref-heldout", "type": "custom", "path": str(instr / "eval" / "pref_heldout.jsonl"),
            "reader_cfg": {"input_columns": ["prompt", "A", "B"], "output_column": "answer", "id_column": "id",
                           "group_column": "kind"},
            "infer_cfg": {"prompt_template": {"template": "{prompt}"}, "retriever": {"type": "ZeroRetriever"},
                          "inferencer": {"type": "PPLInferencer", "choices": ["A", "B"], "continuation": "{text}"}},
            "eval_cfg": {"evaluator": {"type": "AccEvaluator"}}}


def write_config(path: Path, models: list[dict], datasets: list[dict]) -> Path:
    path.write_text(f"models = {models!r}\ndatasets = {datasets!r}\n"
                    f"summarizer = {{'dataset_abbrs': {[d['abbr'] for d in datasets]!r}}}\n")
    return path


def serve(export: Path, name: str, log: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "reference_model.cli", "serve", str(export), "--port", "0",
                             "--name", name, "--threads", "1"], cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                            stderr=log.open("w"), text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        sys.exit(f"refmodel serve {export} did not start; see {log}")
    return proc, line.rsplit(" ", 1)[-1].strip()


def run_dir(outputs: Path) -> Path:
    (only,) = [p for p in outputs.iterdir() if p.is_dir()]
    (stamp,) = [p for p in only.iterdir() if p.is_dir()]
    return stamp


def gate(baseline: Path, candidate: Path, base_model: str, cand_model: str, out: Path, name: str) -> dict:
    proc = compass("gate", "--baseline", str(baseline), "--candidate", str(candidate), "--baseline-model", base_model,
                   "--candidate-model", cand_model, "--max-drop", "0", "--json", str(out / f"{name}.json"),
                   "--markdown", str(out / f"{name}.md"), log=out / f"{name}.log", ok=(0, 1))
    result = json.loads((out / f"{name}.json").read_text())
    print(proc.stdout.strip().splitlines()[-1])
    return {"exit_code": proc.returncode, "verdict": result.get("verdict"),
            "datasets": {d["dataset"]: {k: d.get(k) for k in ("delta", "ci95", "p", "p_holm", "verdict")}
                         for d in result.get("datasets", [])}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "outputs" / "full-chain")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="a few steps of everything: a smoke run")
    p.add_argument("--keep", action="store_true", help="keep --out: finished training runs resume at their end "
                   "(nothing is retrained); evaluations run again")
    args = p.parse_args(argv)
    size = QUICK if args.quick else FULL
    out = args.out.resolve()
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out / "runs", ignore_errors=True)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    build_instructions(out / "instr", n_sft=size["n_sft"], n_pairs=size["n_pairs"], n_eval=size["n_eval"])
    data = pretraining_corpus(out, out / "instr")
    timings["data_s"] = time.perf_counter() - t0

    common = {"progress": "false", "threads": args.threads, "log_every": 10}
    refmodel("pretrain", *flags(data=data, out=out / "base", model="tiny", model_overrides=MODEL, seq_len=256,
                                micro_batch=16, max_steps=size["pretrain_steps"], lr=3e-3, warmup_steps=20,
                                min_lr_ratio=0.1, eval_every=100, ckpt_every=250, **common),
             log=out / "logs" / "pretrain.log")
    timings["pretrain_s"] = time.perf_counter() - t0 - sum(timings.values())
    refmodel("sft", *flags(init=out / "base", data=out / "instr" / "sft", out=out / "sft", seq_len=256, micro_batch=16,
                           max_steps=size["sft_steps"], lr=1e-3, warmup_steps=10, eval_every=50, ckpt_every=150,
                           **common), log=out / "logs" / "sft.log")
    timings["sft_s"] = time.perf_counter() - t0 - sum(timings.values())
    refmodel("prefer", *flags(init=out / "sft", data=out / "instr" / "pref", out=out / "dpo", seq_len=128,
                              micro_batch=16, max_steps=size["dpo_steps"], lr=3e-4, warmup_steps=5, beta=1.0,
                              eval_every=50, eval_batches=10, ckpt_every=150, **common), log=out / "logs" / "dpo.log")
    timings["dpo_s"] = time.perf_counter() - t0 - sum(timings.values())
    exports = {}
    for stage in ("base", "sft", "dpo"):
        refmodel("export", "--ckpt", str(out / stage), "--out", str(out / "hf" / stage))
        exports[stage] = out / "hf" / stage

    # Served as "chain-<stage>": a bare "base" would also name the run directory beside the config, which
    # compass's path check reads as a misplaced relative path.
    servers = {stage: serve(path, f"chain-{stage}", out / "logs" / f"serve-{stage}.log") for stage, path in exports.items()}
    try:
        def models(chat: bool) -> list[dict]:
            return [{"abbr": stage, "type": "OpenAI", "path": f"chain-{stage}", "api_base": url, "api_key_env": "CHAIN_NO_KEY",
                     "chat": chat, "max_out_len": 48, "batch_size": 16, "api_timeout_s": 60.0}
                    for stage, (_, url) in servers.items()]
        instr_cfg = write_config(out / "eval_instructions.py", models(True), instruction_datasets(out / "instr"))
        pref_cfg = write_config(out / "eval_preferences.py", models(False), [preference_dataset(out / "instr")])
        compass("run", str(instr_cfg), "-w", str(out / "runs" / "instructions"), log=out / "logs" / "compass-instr.log")
        compass("run", str(pref_cfg), "-w", str(out / "runs" / "preferences"), log=out / "logs" / "compass-pref.log")
        stops = stop_check(servers["sft"][1], out / "instr")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(60)
    timings["serve_and_eval_s"] = time.perf_counter() - t0 - sum(timings.values())
    contamination = corpus_contamination(out, data / "manifest.json", [instr_cfg, pref_cfg])
    timings["contamination_s"] = time.perf_counter() - t0 - sum(timings.values())

    instr_run, pref_run = run_dir(out / "runs" / "instructions"), run_dir(out / "runs" / "preferences")
    compass("report", str(instr_run), str(pref_run), "-o", str(out / "report"))
    gates = {"sft_vs_base": gate(instr_run, instr_run, "base", "sft", out / "gate", "sft_vs_base"),
             "base_vs_sft": gate(instr_run, instr_run, "sft", "base", out / "gate", "base_vs_sft"),
             "sft_vs_dpo_preferences": gate(pref_run, pref_run, "dpo", "sft", out / "gate", "sft_vs_dpo")}
    timings["total_s"] = time.perf_counter() - t0
    summary = {"scores": scores(instr_run, pref_run), "sft_stops_at_im_end": stops, "gates": gates,
               "dpo_heldout": last_row(out / "dpo" / "metrics.jsonl"), "sft_heldout": last_row(out / "sft" / "metrics.jsonl"),
               "timings_s": {k: round(v, 1) for k, v in timings.items()}, "quick": args.quick,
               "report": str(out / "report"), "corpus_contamination": contamination}
    (out / "chain_summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    for abbr, c in contamination.items():
        lo, hi = c["ci95"]
        print(f"corpus contamination {abbr}: {100 * c['contaminated_share']:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] "
              f"of {c['n']} ({c['too_short_to_check']} too short to check)")
    return 0


def scores(*runs: Path) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for run in runs:
        for path in (run / "results").rglob("*.json"):
            result = json.loads(path.read_text())
            table.setdefault(result["model"], {})[result["dataset"]] = result["metrics"]["accuracy"]
    return table


def corpus_contamination(out: Path, manifest: Path, configs: list[Path]) -> dict[str, dict]:
    """``compass contamination`` of the pretraining corpus against every evaluated dataset (one index for
    both configs): per dataset the label counts and the contaminated share with its 95% Wilson CI."""
    table: dict[str, dict] = {}
    for cfg in configs:
        labels = out / "contamination" / cfg.stem
        compass("contamination", str(cfg), "--corpus", str(manifest), "--index", str(out / "contamination" / "index"),
                "-o", str(labels), "-q", log=out / "logs" / f"contamination-{cfg.stem}.log")
        for path in sorted(labels.glob("*.summary.json")):
            s = json.loads(path.read_text())
            # "unchecked": samples no field of which reaches the n-gram length (labelled so, never "clean").
            table[s["dataset"]] = {**{k: s[k] for k in ("n", "counts", "contaminated_share", "ci95")},
                                   "too_short_to_check": s["counts"]["unchecked"]}
    return table


def last_row(metrics: Path) -> dict:
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    return {k: v for k, v in rows[-1].items() if k.startswith("val_") or k == "step"}


def stop_check(url: str, instr: Path) -> dict:
    """How the SFT model's held-out chat answers end: the last generated token of each (the one that
    stopped it, when it is a stop token), counted."""
    import openai

    client = openai.OpenAI(base_url=url, api_key="none", max_retries=2)
    last: dict[str, int] = {}
    for kind in KINDS:
        for line in (instr / "eval" / f"instr_{kind}.jsonl").read_text().splitlines()[:20]:
            answer = client.chat.completions.create(model="chain-sft", temperature=0, max_tokens=64, logprobs=True,
                                                    messages=[{"role": "user", "content": json.loads(line)["question"]}])
            choice = answer.choices[0]
            content = choice.logprobs.content if choice.logprobs else None
            token = content[-1].token if content and choice.finish_reason == "stop" else "(max_tokens)"
            last[token] = last.get(token, 0) + 1
    return last

if __name__ == "__main__":
    sys.exit(main())
