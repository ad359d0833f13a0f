"""The prompt presets vs the prompts lm-evaluation-harness and OpenCompass build themselves.

    python bench/prompts_vs_peers.py [--gsm8k-dir DIR] [--record tests/data/peer_prompts.json] [--write-docs]

1. A fixture (``bench/peer_fixture.py``): synthetic MMLU (4 subjects under real subject names,
   questions with surrounding whitespace and braces), C-Eval (4 real subjects, whitespace around
   questions) and GSM8K (a train split, and a test split with repeated rows for few-shot draws from
   the test split itself), in the official layouts.
2. Compass: each preset in ``datasets_cfg`` pointed at the fixture, prompts built by the suite's own
   loaders and prompt assembly.
3. lm-eval 0.4.13 (its own venv, offline): task YAMLs that include lm-eval's own ``mmlu_<subject>.yaml``,
   ``ceval-valid_<subject>.yaml`` and ``gsm8k.yaml`` and only change where the data is, run by ``lm_eval run --model dummy
   --log_samples`` (its whole request-building pipeline, no weights), with and without ``--num_fewshot 5``.
4. OpenCompass 0.5.4 (its own venv): its own ``mmlu_ppl.py`` / ``gsm8k_gen.py`` configs through its
   inference task and ``HuggingFaceBaseModel`` on a tiny random model (``bench/opencompass_prompts.py``).
5. Per sample: compass's prompt (multiple choice: each prompt + scored continuation) == the peer's.

OpenCompass's GSM8K prompt has four fixed examples from the real GSM8K train split, so that preset is
compared only on real data: ``--gsm8k-dir`` (``train.jsonl``/``test.jsonl`` of openai/grade-school-math),
which also runs lm-eval's GSM8K preset on all of it and prints each preset's prompt hash there.

``--record`` writes the fixture rows and the peers' prompts, which ``tests/test_presets.py`` replays
without the peers; ``--write-docs`` adds a dated section to ``docs/benchmarks.md``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lm_eval_side
from peer_fixture import (
    CASES,
    KNOWN_DIFFERENCES,
    REPO,
    Case,
    build_rows,
    compass_prompts,
    read_lm_eval,
    recorded_texts,
    run_lm_eval,
    write_compass_layout,
    write_lm_eval_tasks,
)

OPENCOMPASS_VERSION = "0.5.4"
HEADING = "## Prompt presets vs lm-evaluation-harness and OpenCompass"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work-dir", type=Path, default=Path("/tmp/compass-prompts-bench"))
    cache = Path.home() / ".cache" / "compass-bench"
    p.add_argument("--lm-venv", type=Path, default=cache / "lm-eval-venv")
    p.add_argument("--oc-venv", type=Path, default=cache / "oc-venv")
    p.add_argument("--n-test", type=int, default=6, help="MMLU test questions per subject (GSM8K: twice as many)")
    p.add_argument("--gsm8k-dir", type=Path, help="the official GSM8K train.jsonl/test.jsonl (optional)")
    p.add_argument("--record", type=Path, help="write the fixture and the peers' prompts here (a test replays them)")
    p.add_argument("--write-docs", action="store_true")
    p.add_argument("--docs-from", type=Path, metavar="RESULTS", help="only write the docs section of a results.json")
    return p.parse_args(argv)


def ensure_oc_venv(venv: Path) -> str:
    py = venv / "bin" / "python"
    probe = "import importlib.metadata as m; print(m.version('opencompass'))"
    proc = subprocess.run([str(py), "-c", probe], capture_output=True, text=True) if py.exists() else None
    if proc is not None and proc.returncode == 0 and proc.stdout.strip() == OPENCOMPASS_VERSION:
        return OPENCOMPASS_VERSION
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    constraints = venv / "constraints.txt"  # PEERS.md: numpy<2 needs pyarrow<22; its HF class needs transformers<5
    constraints.write_text(f"torch=={lm_eval_side.TORCH_VERSION}\npyarrow<22\ntransformers<5\n")
    pip = [str(py), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, f"torch=={lm_eval_side.TORCH_VERSION}"], check=True)
    subprocess.run([*pip, f"opencompass=={OPENCOMPASS_VERSION}", "-c", str(constraints)], check=True)
    return OPENCOMPASS_VERSION


def tiny_model(work: Path) -> Path:
    """A tiny random Llama whose tokenizer transformers 4 loads (PEERS.md: not TokenizersBackend)."""
    from compass.testing import build_tiny_llama

    path = build_tiny_llama(work / "tiny-llama")
    config = path / "tokenizer_config.json"
    data = json.loads(config.read_text())
    if data.get("tokenizer_class") != "PreTrainedTokenizerFast":
        config.write_text(json.dumps({**data, "tokenizer_class": "PreTrainedTokenizerFast"}, indent=2))
    return path


def run_opencompass(venv: Path, work: Path, specs: list[str]) -> dict:
    out = work / "opencompass_prompts.json"
    cmd = [str(venv / "bin" / "python"), str(Path(__file__).with_name("opencompass_prompts.py")), str(out),
           str(tiny_model(work)), *specs]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=lm_eval_side.OFFLINE | _path_env())
    if proc.returncode != 0:
        raise SystemExit(f"OpenCompass failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def _path_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "LANG")}


def compare(name: str, ours: dict[str, list[str]], theirs: dict[str, list[str]], known: dict[str, str]) -> dict:
    both = sorted(ours.keys() & theirs.keys())
    same = [i for i in both if ours[i] == theirs[i] and i not in known]
    diff = next((i for i in both if ours[i] != theirs[i] and i not in known), None)
    return {"case": name, "compass": len(ours), "peer_n": len(theirs), "matched": len(both), "identical": len(same),
            "known": sum(i in both and ours[i] != theirs[i] for i in known),
            "first_diff": None if diff is None else {"id": diff, "compass": ours[diff], "peer": theirs[diff]}}


def prompt_hash(prompts: dict[str, str]) -> str:
    from types import SimpleNamespace
    from typing import Any, cast

    from compass.tasks.evaluate import prompt_hash as digest  # the digest results carry

    return digest(cast(Any, [SimpleNamespace(id=i, prompt=p) for i, p in prompts.items()]))


def lm_eval_tasks_dir(venv: Path) -> Path:
    code = "import lm_eval.tasks as t, os; print(os.path.dirname(t.__file__))"
    return Path(subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True,
                               check=True).stdout.strip())


LM_EVAL_RUNS = {  # (lm-eval task, --num_fewshot) -> case
    ("cpp_mmlu", None): "mmlu_lmeval", ("cpp_mmlu", 5): "mmlu_lmeval_5shot",
    ("cpp_ceval", None): "ceval_lmeval", ("cpp_ceval", 5): "ceval_lmeval_5shot",
    ("cpp_gsm8k", None): "gsm8k_lmeval", ("cpp_gsm8k_same", None): "gsm8k_lmeval_same_split"}


def lm_eval_prompts(venv: Path, tasks: Path, work: Path, peers: dict, extras: dict) -> list[str]:
    """lm-eval's prompts per case into ``peers`` (and its stop strings into ``extras``); its commands."""
    commands = []
    for num_fewshot in (None, 5):
        names = sorted({task for task, shots in LM_EVAL_RUNS if shots == num_fewshot})
        out = work / f"lm_eval_out_{num_fewshot or 'default'}"
        commands.append("lm_eval " + run_lm_eval(venv, tasks, names, out, num_fewshot))
        for task, found in read_lm_eval(out).items():
            name = LM_EVAL_RUNS[(task, num_fewshot)]
            peers[name] = {i: r["prompts"] for i, r in found.items()}
            extras[name] = next(({"peer_stop": r["gen_kwargs"].get("until")} for r in found.values()
                                 if "gen_kwargs" in r), {})
    return commands


def real_gsm8k(args, rows: dict, work: Path, peers: dict, extras: dict, oc: dict) -> tuple[Path, list[Case], str]:
    """The official GSM8K files: lm-eval's and OpenCompass's prompts on all of them."""
    real = work / "real"
    (real / "gsm8k").mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        target = real / "gsm8k" / f"{split}.jsonl"
        target.unlink(missing_ok=True)
        target.symlink_to(args.gsm8k_dir.resolve() / f"{split}.jsonl")
    tasks = write_lm_eval_tasks(rows, real, lm_eval_tasks_dir(args.lm_venv))
    out = work / "lm_eval_out_real"
    command = "lm_eval " + run_lm_eval(args.lm_venv, tasks, ["cpp_gsm8k"], out, None)
    found = read_lm_eval(out)["cpp_gsm8k"]
    peers["real_gsm8k_lmeval"] = {i: r["prompts"] for i, r in found.items()}
    extras["real_gsm8k_lmeval"] = {"peer_stop": next(iter(found.values()))["gen_kwargs"].get("until")}
    peers["real_gsm8k_opencompass"] = oc["gsm8k"]
    cases = [Case("real_gsm8k_lmeval", "datasets_cfg/gsm8k/gsm8k_lmeval_gen.py", "gsm8k", "lm-eval"),
             Case("real_gsm8k_opencompass", "datasets_cfg/gsm8k/gsm8k_opencompass_gen.py", "gsm8k", "opencompass")]
    return real, cases, command


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.docs_from:
        write_docs(REPO / "docs" / "benchmarks.md", json.loads(args.docs_from.read_text()))
        return 0
    work: Path = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    lm_versions = lm_eval_side.ensure_venv(args.lm_venv)
    oc_version = ensure_oc_venv(args.oc_venv)
    rows = build_rows(args.n_test)
    data = write_compass_layout(rows, work / "data")
    peers: dict[str, dict[str, list[str]]] = {}
    extras: dict[str, dict] = {}
    commands = lm_eval_prompts(args.lm_venv, write_lm_eval_tasks(rows, data, lm_eval_tasks_dir(args.lm_venv)), work,
                               peers, extras)
    specs = [f"mmlu:{data / 'mmlu' / 'data'}:{','.join(rows['mmlu'])}"]
    if args.gsm8k_dir:
        specs.append(f"gsm8k:{args.gsm8k_dir.resolve()}")
    oc = run_opencompass(args.oc_venv, work, specs)
    peers["mmlu_opencompass"] = oc["mmlu"]
    cases, roots = list(CASES), {c.name: data for c in CASES}
    if args.gsm8k_dir:
        real, real_cases, command = real_gsm8k(args, rows, work, peers, extras, oc)
        commands.append(command)
        cases += real_cases
        roots.update({c.name: real for c in real_cases})
    results = []
    for case in cases:
        side = compass_prompts(case, roots[case.name])
        result = compare(case.name, side.texts, peers[case.name], KNOWN_DIFFERENCES.get(case.name, {}))
        result.update(config=case.config, peer=case.peer, preset=side.preset, prompt_hash=prompt_hash(side.prompts),
                      stop=side.stop, **extras.get(case.name, {}))
        results.append(result)
        status = "identical" if _all_same(result) else "DIFFER"
        known = f" (+{result['known']} known difference)" if result["known"] else ""
        print(f"{case.name:28s} {result['identical']:5d}/{result['matched']:<5d} {status}{known}  "
              f"hash {result['prompt_hash']}", flush=True)
    report = {"date": time.strftime("%Y-%m-%d"), "lm_eval": lm_versions["lm_eval"], "opencompass": oc_version,
              "commands": commands, "results": results, "seconds": round(time.time() - started, 1),
              "command": "python bench/prompts_vs_peers.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    (work / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    if args.record:
        record(args.record, {"lm_eval": lm_versions["lm_eval"], "opencompass": oc_version}, rows, peers)
    if args.write_docs:
        write_docs(REPO / "docs" / "benchmarks.md", report)
    return 0 if all(_all_same(r) for r in results) else 1


def record(path: Path, versions: dict, rows: dict, peers: dict) -> None:
    """The fixture rows and the peers' prompts, one sample a line; a sample's texts (one per choice)
    as their common start and each one's rest (``peer_fixture.recorded_texts`` reads them back)."""
    lines = [f'"versions": {json.dumps(versions)}', f'"rows": {json.dumps(rows, ensure_ascii=False)}']
    for case in CASES:
        texts = peers[case.name]
        body = ",\n".join(f"  {json.dumps(i)}: {json.dumps(_split(texts[i]), ensure_ascii=False)}" for i in texts)
        lines.append(f'"{case.name}": {{\n{body}\n}}')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    assert all(recorded_texts(path)[c.name] == peers[c.name] for c in CASES)


def _split(texts: list[str]) -> list:
    start = texts[0]
    for text in texts[1:]:
        while not text.startswith(start):  # the choices differ at the end: few steps
            start = start[:-1]
    return [start, [t[len(start):] for t in texts]]


def _all_same(r: dict) -> bool:
    """Every sample on both sides, each identical but the known differences (which must still differ)."""
    return r["identical"] + r["known"] == r["matched"] == r["compass"] == r["peer_n"] > 0


def write_docs(path: Path, report: dict) -> None:
    rows = ["| case | preset config | peer | samples (compass / peer) | identical prompts | stop strings | prompt hash |",
            "|---|---|---|---:|---:|---|---|"]
    for r in report["results"]:
        stop = "-" if r.get("peer_stop") is None else "same" if r["peer_stop"] == r["stop"] else "DIFFER"
        known = f" + {r['known']} known" if r["known"] else ""
        rows.append(f"| {r['case']} | `{r['config']}` | {r['peer']} | {r['compass']} / {r['peer_n']} | "
                    f"{r['identical']}{known} | {stop} | `{r['prompt_hash']}` |")
    known_notes = [f"`{case}` `{sid}`: {why}." for case, ids in KNOWN_DIFFERENCES.items() for sid, why in ids.items()
                   if any(r["case"] == case and r["known"] for r in report["results"])]
    section = "\n".join([
        f"### {report['date']}", "",
        f"lm-eval {report['lm_eval']} and OpenCompass {report['opencompass']}, each in its own venv, offline. "
        f"Command: `{report['command']}` ({report['seconds']:.0f} s).", "",
        *rows, "",
        "Identical: the preset's prompt equals the peer's byte for byte (multiple choice: each prompt followed "
        "by its scored continuation, e.g. `...Answer: A`), for every sample of both. `real_*`: the official "
        "GSM8K files (openai/grade-school-math `train.jsonl`, 7,473 rows; `test.jsonl`, 1,319); their prompt "
        "hash is what a result of that preset on those files carries. Stop strings: lm-eval's `until` for "
        "the sample equals the preset's `stop`. Known differences: " + " ".join(known_notes), "", ""])
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if HEADING not in text:
        text = text.rstrip("\n") + "\n\n" + HEADING + "\n\n" + INTRO + "\n\n"
    start = text.index(HEADING) + len(HEADING)
    nxt = text.find("\n## ", start)
    end = len(text) if nxt < 0 else nxt + 1
    path.write_text((text[:end].rstrip("\n") + "\n\n" + section + text[end:]).rstrip("\n") + "\n")


INTRO = """\
`python bench/prompts_vs_peers.py` checks that the prompt presets (`datasets_cfg/*/*_lmeval_*.py`,
`*_opencompass_*.py`) ask exactly what lm-evaluation-harness and OpenCompass ask, per sample, on a
fixture built to catch differences (whitespace around questions, braces, few-shot draws from the test
split with repeated rows). The peers build their prompts with their own code and configs; only the
data location is changed. `tests/test_presets.py` replays the recorded peer prompts on every run."""


if __name__ == "__main__":
    sys.exit(main())
