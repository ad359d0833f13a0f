"""Compass vs lm-evaluation-harness 0.4.13 on the same CPU, model, data and prompts.

    python bench/vs_lm_eval.py [--quick] [--only mc_letters,mc_text,gsm8k] [--batch-size 16] [--write-docs]

What is compared, per variant, with both tools at the same batch size (fp32 CPU unless --device/--dtype):

* ``mc_letters``: MMLU format, 5-shot from dev (first 5 rows of the subject), each choice scored
  as the continuation " A".." D" (compass ``datasets_cfg/mmlu/mmlu_mini_ppl.py``).
* ``mc_text``: the same prompts, but the option texts are the continuations (multi-token).
* ``gsm8k``: GSM8K format, 4-shot chain of thought, greedy generation up to 96 tokens, cut at
  "\\n\\n" / "Question:" (compass ``datasets_cfg/gsm8k/gsm8k_mini_gen.py``). The plain random
  model repeats one token, so every completion runs to the cap: nothing to refill.
* ``gsm8k_uneven``: the same prompts and settings on a model whose completions end at EOS after
  very uneven numbers of tokens (``bench/uneven_model.py``, EOS scale 1.5: mostly 1-130 tokens).
* ``long``: the same prompts, up to 512 new tokens, on such a model with EOS scale 1.2
  (completions from a few tokens to the cap).

How:

1. A fixture in ``--work-dir``: a random Llama-architecture model from
   ``compass.testing.build_tiny_llama`` and synthetic MMLU/GSM8K files in the official layouts.
2. Compass runs a generated config (the mini dataset configs, inlined) through its CLI.
3. lm-eval runs from its own venv (outside the repo), offline, on generated task YAMLs that
   reproduce compass's prompts over the same rows (``bench/lm_eval_side.py``).
4. Whole commands are timed (wall clock, one tool at a time, the two tools in turn: compass,
   lm-eval, lm-eval, compass, ... so that both see the machine's speed of the moment), plus each tool's model loop:
   compass from its first batch event to its predictions' completion mark, lm-eval from
   "Running ... requests" to that progress bar's 100%.
5. Per sample, compass ids (``<subject>/<row>``, ``<row>``) are matched to lm-eval's doc order;
   the table reports whether the prompts (and continuations) are byte-identical, the agreement
   of the chosen answers (or of the generated texts), and the largest log-likelihood difference.

The compass under test is frozen at start: a copy of the checkout's ``compass/`` or, with
``--compass-rev REV``, that revision (``git archive``), so edits made meanwhile do not leak in.
On a shared machine, ``--repeat N --nice -10`` keeps the fastest of N runs in a niced session of
its own (``bench/quiet.py``); each result records the cores other processes used during it.

Results go to ``<work-dir>/results.json``; ``--write-docs`` adds a dated section to
``docs/benchmarks.md`` under "Compass vs lm-evaluation-harness (CPU)". The baseline there:

    python bench/vs_lm_eval.py --compass-rev 97ae9cc --repeat 2 --max-wait 60 --nice -10
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import compass_side  # noqa: E402
import lm_eval_side  # noqa: E402
from quiet import measured_pairs, set_priority  # noqa: E402
from uneven_model import build_uneven_model  # noqa: E402

VARIANTS = ("mc_letters", "mc_text", "gsm8k", "gsm8k_uneven", "long")
GENERATION = tuple(compass_side.MAX_OUT)
EOS_SCALE = {"gsm8k_uneven": 1.5, "long": 1.2}  # variants on bench/uneven_model.py, and its EOS scale
HEADING = "## Compass vs lm-evaluation-harness (CPU)"
# Full: compute-bound enough that the model dominates, ~1-3 min per tool and variant on 2 cores.
FULL = dict(hidden=512, layers=8, vocab=512, subjects=4, mmlu_test=50, gsm8k_test=50)
QUICK = dict(hidden=64, layers=2, vocab=512, subjects=2, mmlu_test=6, gsm8k_test=6)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny model and data: a smoke run (a few minutes)")
    p.add_argument("--only", default=",".join(VARIANTS), help="comma-separated subset of " + ",".join(VARIANTS))
    p.add_argument("--batch-size", type=int, default=16, help="the same for both tools (default 16)")
    p.add_argument("--work-dir", type=Path, default=Path("/tmp/compass-bench"))
    p.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "compass-bench" / "lm-eval-venv")
    p.add_argument("--hidden", type=int), p.add_argument("--layers", type=int), p.add_argument("--vocab", type=int)
    p.add_argument("--compass-rev", help="benchmark this git revision of compass (exported with git archive "
                   "into the work dir) instead of the live checkout, e.g. HEAD or a commit")
    p.add_argument("--repeat", type=int, default=1, help="runs per tool and variant; the fastest is reported")
    p.add_argument("--max-wait", type=float, default=600,
                   help="before each timed command, wait up to this many seconds for other processes to go quiet")
    p.add_argument("--nice", type=int, default=0, help="scheduling priority of both tools' runs; negative (root "
                   "only, e.g. -10) shields the timings from other processes on a shared machine")
    p.add_argument("--device", default="cpu", help="both tools' device: cpu (default) or cuda")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                   help="both tools' weights dtype (default float32; bfloat16 on a GPU)")
    p.add_argument("--write-docs", action="store_true", help="append the results to docs/benchmarks.md")
    p.add_argument("--label", default="", help="what this run measures, for the docs section title")
    p.add_argument("--docs", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = p.parse_args(argv)
    args.only = [v.strip() for v in args.only.split(",") if v.strip()]
    if bad := [v for v in args.only if v not in VARIANTS]:
        p.error(f"--only: unknown variant(s) {', '.join(bad)}; known: {', '.join(VARIANTS)}")
    args.size = dict(QUICK if args.quick else FULL)
    args.size.update({k: getattr(args, k) for k in ("hidden", "layers", "vocab") if getattr(args, k)})
    return args


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def compass_source(rev: str | None, work: Path) -> tuple[Path, str]:
    """The compass tree to benchmark, frozen for the whole run (others may edit the checkout meanwhile):
    a copy of the live ``compass/`` package, or revision ``rev`` exported with ``git archive``."""
    if not rev:
        dest = work / "compass-src-live"
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(REPO / "compass", dest / "compass", ignore=shutil.ignore_patterns("__pycache__"))
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted((dest / "compass").rglob("*.py"))))
        dirty = "+uncommitted" if git("status", "--porcelain", "--", "compass") else ""
        return dest, f"{git('rev-parse', '--short=12', 'HEAD')}{dirty} (compass/ sha256 {digest.hexdigest()[:12]})"
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")[:12]
    dest = work / f"compass-src-{sha}"
    if not (dest / "compass").is_dir():
        tmp = work / f"compass-src-{sha}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        subprocess.run(f"git archive {sha} | tar -x -C {tmp}", shell=True, cwd=REPO, check=True)
        tmp.rename(dest)
    return dest, sha


def build_fixture(work: Path, size: dict, variants: list[str]) -> tuple[dict[str, Path], Path, str]:
    """Model per variant and data, built once per size and reused (so later runs measure the same
    fixture)."""
    from compass.synthetic import MMLU_SUBJECTS, write_gsm8k, write_mmlu
    from compass.testing import build_tiny_llama

    model = build_tiny_llama(work / f"model-h{size['hidden']}-l{size['layers']}-v{size['vocab']}",
                             hidden=size["hidden"], layers=size["layers"], vocab_size=size["vocab"])
    data = work / f"data-s{size['subjects']}-m{size['mmlu_test']}-g{size['gsm8k_test']}"
    if not data.is_dir():
        tmp = data.with_name(data.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        write_mmlu(tmp / "mmlu", subjects=MMLU_SUBJECTS[: size["subjects"]], n_dev=5, n_val=5,
                   n_test=size["mmlu_test"])
        write_gsm8k(tmp / "gsm8k", n_train=4, n_test=size["gsm8k_test"])
        tmp.rename(data)
    models = {v: build_uneven_model(model, model.with_name(f"{model.name}-eos{EOS_SCALE[v]}"), EOS_SCALE[v])
              if v in EOS_SCALE else model for v in variants}
    digest = hashlib.sha256()
    for root in sorted({model, data, *models.values()}):
        for f in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(f.name.encode() + f.read_bytes())
    return models, data, digest.hexdigest()[:16]


def completion_lengths(rows: list[dict], cap: int) -> dict:
    """How uneven the completions were: tokens generated (compass's count) and how many hit the cap."""
    n = sorted(r["completion_tokens"] for r in rows)
    return {"min": n[0], "median": n[len(n) // 2], "mean": sum(n) / len(n), "max": n[-1],
            "at_cap": sum(r["finish_reason"] == "length" for r in rows), "cap": cap}


def compare(variant: str, cp: dict[str, dict], lm: dict[str, dict], tokenizer=None) -> dict:
    """Per-sample agreement, prompt identity and (multiple choice) log-likelihood differences."""
    ids = sorted(cp)
    both = [i for i in ids if i in lm]
    same_prompt = sum(cp[i]["prompt"] == lm[i]["prompt"] for i in both)
    out = {"n_compass": len(cp), "n_lm_eval": len(lm), "matched": len(both),
           "prompts_identical": same_prompt, "first_prompt_diff": None}
    if diff := next((i for i in both if cp[i]["prompt"] != lm[i]["prompt"]), None):
        out["first_prompt_diff"] = {"id": diff, "compass": cp[diff]["prompt"], "lm_eval": lm[diff]["prompt"]}
    if variant in GENERATION:
        out["lengths"] = completion_lengths(list(cp.values()), compass_side.MAX_OUT[variant])
        out["agree"] = sum(cp[i]["prediction"] == lm[i]["generation"] for i in both)
        out["agree_stripped"] = sum(cp[i]["prediction"].strip() == lm[i]["generation"].strip() for i in both)
        return out
    letters = lm_eval_side.LETTERS
    conts = {i: [" " + (lm[i]["doc"][c] if variant == "mc_text" else c) for c in letters] for i in both}
    out["continuations_identical"] = sum(conts[i] == lm[i]["continuations"] for i in both)
    argmax = {i: max(range(4), key=lm[i]["scores"].__getitem__) for i in both}  # first max, like compass
    out["agree"] = sum(letters.index(cp[i]["prediction"]) == argmax[i] for i in both)
    out["max_abs_loglik_diff"] = max(abs(a - b) for i in both for a, b in zip(cp[i]["scores"], lm[i]["scores"]))
    out["lm_eval_accuracy"] = sum(lm[i]["metrics"]["acc"] for i in both) / len(both)
    if tokenizer is not None:  # how many continuations are really multi-token (lm-eval dedups 1-token ones)
        n_tok = [len(tokenizer(lm[i]["prompt"] + c)["input_ids"]) - len(tokenizer(lm[i]["prompt"])["input_ids"])
                 for i in both for c in conts[i]]
        out["multi_token_continuations"] = f"{sum(n > 1 for n in n_tok)}/{len(n_tok)}"
    return out


def run_variant(variant: str, args, model: Path, data: Path) -> dict:
    work: Path = args.work_dir
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"[{variant}] compass and lm-eval, {args.repeat} run(s) each, in turn ...", file=sys.stderr, flush=True)
    cfg = compass_side.write_config(work / "compass" / f"{variant}.py", variant, model, data, args.batch_size,
                                    args.device, args.dtype)
    lm_dir = work / "lm_eval"
    if variant in GENERATION:
        tag = lm_eval_side.write_gsm8k_task(data / "gsm8k", lm_dir, compass_side.MAX_OUT[variant],
                                            compass_side.GSM8K_STOP, variant)
    else:
        tag = lm_eval_side.write_mmlu_tasks(data / "mmlu", lm_dir, variant)
    out = lm_dir / "out" / variant
    cp_run, lm_run, pair_ratios = measured_pairs(
        args, (compass_side.run, cfg, work / "compass" / "runs", logs / f"compass-{variant}.log"),
        (lm_eval_side.run, args.venv, model, tag, lm_dir / "tasks" / variant, out, args.batch_size,
         logs / f"lm-eval-{variant}.log", args.device, args.dtype))
    cp_rows, cp_result = compass_side.read_predictions(Path(cp_run["run_dir"]))
    from transformers import AutoTokenizer

    cmp = compare(variant, cp_rows, lm_eval_side.read_samples(out, tag), AutoTokenizer.from_pretrained(model))
    n = len(cp_rows)
    res = {"variant": variant, "n": n, "compass": cp_run, "lm_eval": lm_run, "comparison": cmp,
           "compass_accuracy": cp_result["metrics"]["accuracy"], "pair_ratios": pair_ratios}
    for side in (cp_run, lm_run):
        side["samples_per_s"] = n / side["wall_s"]
        side["loop_samples_per_s"] = n / side["loop_s"] if side["loop_s"] else None
    res["ratio"] = cp_run["samples_per_s"] / lm_run["samples_per_s"]
    if cp_run["loop_s"] and lm_run["loop_s"]:
        res["loop_ratio"] = cp_run["loop_samples_per_s"] / lm_run["loop_samples_per_s"]
    return res


def _f(x, fmt="{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def table(results: list[dict]) -> str:
    head = ["variant", "samples", "compass wall s", "compass samples/s", "lm-eval wall s", "lm-eval samples/s",
            "ratio compass/lm-eval", "ratio of each pair run in turn", "model loop s (compass / lm-eval)",
            "loop ratio", "agreement",
            "prompts identical", "accuracy (compass / lm-eval)", "completion tokens min / median / mean / max "
            "(at cap)", "other load, cores (compass / lm-eval)"]
    rows = []
    for r in results:
        c, lm, k = r["compass"], r["lm_eval"], r["comparison"]
        agree = f"{k['agree']}/{k['matched']}"
        if "agree_stripped" in k:
            agree += f" exact ({k['agree_stripped']} after strip)"
        else:
            agree += f" (max abs Δ loglik {k['max_abs_loglik_diff']:.1e})"
        same = f"{k['prompts_identical']}/{k['matched']}"
        if "continuations_identical" in k:
            same += f", continuations {k['continuations_identical']}/{k['matched']}"
        if "multi_token_continuations" in k:
            same += f" ({k['multi_token_continuations']} multi-token)"
        acc = f"{r['compass_accuracy']:.3f} / " + _f(k.get("lm_eval_accuracy"), "{:.3f}")
        n = k.get("lengths")
        lengths = f"{n['min']} / {n['median']} / {n['mean']:.0f} / {n['max']} ({n['at_cap']} at {n['cap']})" if n else "-"
        rows.append([r["variant"], str(r["n"]), _f(c["wall_s"], "{:.1f}"), _f(c["samples_per_s"]),
                     _f(lm["wall_s"], "{:.1f}"), _f(lm["samples_per_s"]), _f(r["ratio"]) + "×",
                     ", ".join(f"{x:.2f}×" for x in r.get("pair_ratios", [])) or "-",
                     f"{_f(c['loop_s'], '{:.1f}')} / {_f(lm['loop_s'], '{:.1f}')}", _f(r.get("loop_ratio")) + "×",
                     agree, same, acc, lengths, f"{c['other_load_cores']:.2f} / {lm['other_load_cores']:.2f}"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def environment(venv_versions: dict, compass_rev: str, device: str) -> dict:
    import torch

    import compass

    machine = f"{os.cpu_count()}-core CPU, no GPU"
    if device.startswith("cuda"):
        machine = f"{torch.cuda.get_device_name(0)}, {os.cpu_count()} CPU cores"

    return {"date": subprocess.run(["date", "+%Y-%m-%d"], capture_output=True, text=True).stdout.strip(),
            "machine": machine, "python": platform.python_version(),
            "compass": compass.__version__, "commit": compass_rev, "compass_src": str(Path(compass.__file__).parent),
            "torch": md.version("torch"), "transformers": md.version("transformers"),
            "lm_eval_venv": venv_versions}


def write_docs(path: Path, report: dict, label: str) -> None:
    env, size = report["environment"], report["fixture"]
    lv = env["lm_eval_venv"]
    section = "\n".join([
        f"### {env['date']}{' — ' + label if label else ''}", "",
        f"Machine: {env['machine']}. Compass {env['compass']} (commit {env['commit']}), torch {env['torch']}, "
        f"transformers {env['transformers']}; lm-eval {lv['lm_eval']} in its own venv (torch {lv['torch']}, "
        f"transformers {lv['transformers']}). Command: `{report['command']}`.", "",
        f"Fixture: random Llama (hidden {size['hidden']}, {size['layers']} layers, vocab {size['vocab']}, "
        f"{report['model_params_m']:.1f}M parameters, {report.get('dtype', 'float32')} on "
        f"{report.get('device', 'cpu')}), {size['subjects']} MMLU-format subjects × "
        f"{size['mmlu_test']} test questions (5-shot), {size['gsm8k_test']} GSM8K-format problems (4-shot, "
        f"max {compass_side.GSM8K_MAX_OUT} new tokens; `long`: 512; `gsm8k_uneven` and `long` on "
        f"`bench/uneven_model.py`'s redrawn weights, EOS scale {EOS_SCALE['gsm8k_uneven']} and "
        f"{EOS_SCALE['long']}); batch size {report['batch_size']} for both tools; "
        f"fixture hash {report['fixture_sha256']}. Fastest of {report['repeat']} run(s) per tool, the tools in turn, "
        f"scheduling priority nice {report['nice']}.", "",
        table(report["results"]), "",
        "Ratio = compass samples/s ÷ lm-eval samples/s over whole commands (start-up, data, model load, "
        "inference, scoring); > 1 means compass is faster. Each pair: lm-eval's wall time ÷ compass's in "
        "two runs made one right after the other. The loop columns time only the model loop. "
        "Other load: CPU cores used by processes other than the benchmarked command while it ran "
        "(the machine is shared; > 0.1 means that timing is noisy).", "", ""])
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if HEADING not in text:
        text = text.rstrip("\n") + "\n\n" + HEADING + "\n\n" + INTRO + "\n\n"
    start = text.index(HEADING) + len(HEADING)
    nxt = text.find("\n## ", start)
    end = len(text) if nxt < 0 else nxt + 1
    text = text[:end].rstrip("\n") + "\n\n" + section + text[end:]
    path.write_text(text.rstrip("\n") + "\n")


INTRO = """\
`python bench/vs_lm_eval.py` runs compass and lm-evaluation-harness 0.4.13 (its own venv, offline)
one after the other on the same random Llama-architecture model, the same synthetic MMLU- and
GSM8K-format files and byte-identical prompts (checked per sample), at the same batch size.
Variants: `mc_letters` (5-shot MMLU, choices " A".." D"), `mc_text` (the option texts as
multi-token continuations), `gsm8k` (4-shot, greedy generation), `gsm8k_uneven` and `long` (the
same on a model whose completions end after very uneven numbers of tokens; `long`: up to 512).
`--quick` is a smoke run;
`--write-docs` adds a section here. See the script's docstring for how each number is measured."""


def main(argv=None) -> int:
    args = parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.nice:
        set_priority(args.nice)
    src, compass_rev = compass_source(args.compass_rev, args.work_dir)
    sys.path.insert(0, str(src))  # this process (fixture, parsing) and, below, compass's own processes
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))
    venv_versions = lm_eval_side.ensure_venv(args.venv)
    models, data, fixture_hash = build_fixture(args.work_dir, args.size, args.only)
    model = next(iter(models.values()))
    params = json.loads((model / "config.json").read_text())
    import torch
    from transformers import AutoModelForCausalLM

    n_params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).parameters())
    results = [run_variant(v, args, models[v], data) for v in args.only]
    report = {"command": shlex.join(["python", "bench/vs_lm_eval.py", *(sys.argv[1:] if argv is None else argv)]),
              "environment": environment(venv_versions, compass_rev, args.device), "fixture": args.size,
              "model": str(model), "models": {v: str(m) for v, m in models.items()},
              "fixture_sha256": fixture_hash,
              "model_config": {k: params.get(k) for k in ("hidden_size", "num_hidden_layers", "vocab_size")},
              "model_params_m": n_params / 1e6, "batch_size": args.batch_size, "repeat": args.repeat,
              "device": args.device, "dtype": args.dtype,
              "nice": args.nice, "results": results,
              "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    out = args.work_dir / "results.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    for r in results:
        if diff := r["comparison"]["first_prompt_diff"]:
            print(f"[{r['variant']}] first prompt difference at {diff['id']}:\n  compass: {diff['compass']!r}\n"
                  f"  lm-eval: {diff['lm_eval']!r}")
    print(f"results: {out}")
    if args.write_docs:
        write_docs(args.docs, report, args.label)
        print(f"docs: {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
