"""A fixture and the prompts three suites build on it: compass's presets, lm-evaluation-harness and
OpenCompass (``bench/prompts_vs_peers.py``; ``tests/test_presets.py`` replays the recorded prompts).

The fixture is the project's synthetic data (``compass.synthetic``) in the official layouts, made
harder: MMLU subjects renamed to real ones (so lm-eval's and OpenCompass's own per-subject configs
apply), questions with surrounding whitespace and braces, C-Eval under real subjects, and a GSM8K
test split with repeated rows for few-shot draws from the test split itself. The rows are data, so a recording carries them.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Synthetic subject -> a real MMLU subject whose lm-eval and OpenCompass configs are used.
SUBJECTS = {"elementary_arithmetic": "abstract_algebra", "fictional_geography": "high_school_european_history",
            "number_comparison": "college_computer_science", "unit_conversion": "us_foreign_policy"}
LETTERS = ["A", "B", "C", "D"]
CEVAL_SUBJECTS = ["advanced_mathematics", "college_economics", "logic", "physician"]  # real C-Eval subjects
CEVAL_COLUMNS = ["id", "question", *LETTERS, "answer", "explanation"]
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1"}


@dataclass(frozen=True)
class Case:
    name: str
    config: str  # the preset, relative to the repository
    data: str  # which fixture directory: mmlu, gsm8k, gsm8k_same or ceval
    peer: str  # lm-eval or opencompass
    num_fewshot: int | None = None  # lm-eval's --num_fewshot
    same_split: bool = False  # few-shot examples from the test split itself


CASES = [
    Case("mmlu_lmeval", "datasets_cfg/mmlu/mmlu_lmeval_ppl.py", "mmlu", "lm-eval"),
    Case("mmlu_lmeval_5shot", "datasets_cfg/mmlu/mmlu_lmeval_5shot_ppl.py", "mmlu", "lm-eval", num_fewshot=5),
    Case("gsm8k_lmeval", "datasets_cfg/gsm8k/gsm8k_lmeval_gen.py", "gsm8k", "lm-eval"),
    Case("gsm8k_lmeval_same_split", "datasets_cfg/gsm8k/gsm8k_lmeval_gen.py", "gsm8k_same", "lm-eval",
         same_split=True),
    Case("mmlu_opencompass", "datasets_cfg/mmlu/mmlu_opencompass_ppl.py", "mmlu", "opencompass"),
    Case("ceval_lmeval", "datasets_cfg/ceval/ceval_lmeval_ppl.py", "ceval", "lm-eval"),
    Case("ceval_lmeval_5shot", "datasets_cfg/ceval/ceval_lmeval_5shot_ppl.py", "ceval", "lm-eval", num_fewshot=5),
]

# Samples whose prompts differ from the peer's on purpose, and why.
KNOWN_DIFFERENCES = {"mmlu_opencompass": {
    "abstract_algebra/1": "OpenCompass fills a template by replacing each column's {name} in turn over the whole "
                          "text, so the question's own '{A}' and '{{B}}' become option texts; compass fills each "
                          "placeholder of the template once"}}


# -- the fixture ----------------------------------------------------------------------------------
def build_rows(n_test: int = 6, n_train: int = 12) -> dict:
    """The fixture's rows: MMLU ``[question, A, B, C, D, letter]`` per subject and split, GSM8K dicts."""
    from compass.synthetic import ceval_items, gsm8k_items, mmlu_items

    mmlu: dict[str, dict[str, list[list[str]]]] = {}
    for synthetic_name, subject in SUBJECTS.items():
        mmlu[subject] = {split: [[i.question, *i.choices, i.answer] for i in mmlu_items(synthetic_name, split, n)]
                         for split, n in (("dev", 5), ("test", n_test))}
    # What lm-eval strips and OpenCompass keeps; braces that a template engine must not read.
    first = mmlu["abstract_algebra"]
    first["test"][0][0] = "  " + first["test"][0][0] + " \n"
    first["dev"][1][0] = "\t" + first["dev"][1][0] + "  "
    first["test"][1][0] += " Is {A} or {{B}} right?"
    gsm8k = {"train": gsm8k_items("train", n_train), "test": gsm8k_items("test", 2 * n_test)}
    same = gsm8k_items("test", 8, seed=1)
    same = same + [same[2], same[2], same[5]]  # copies: a draw may hit one twice (lm-eval then redraws)
    ceval = {subject: {split: [[str(i), c.question, *c.choices, c.answer, c.explanation]
                                for i, c in enumerate(ceval_items(subject, split, n))]
                       for split, n in (("dev", 5), ("val", n_test))} for subject in CEVAL_SUBJECTS}
    ceval[CEVAL_SUBJECTS[0]]["val"][0][1] = " " + ceval[CEVAL_SUBJECTS[0]]["val"][0][1] + "\n"
    ceval[CEVAL_SUBJECTS[0]]["dev"][2][1] = "\u3000" + ceval[CEVAL_SUBJECTS[0]]["dev"][2][1]  # ideographic space
    return {"mmlu": mmlu, "gsm8k": gsm8k, "gsm8k_same": {"test": same}, "ceval": ceval}


def write_compass_layout(rows: dict, root: Path) -> Path:
    """The official layouts: MMLU ``data/<split>/<subject>_<split>.csv``, GSM8K ``<split>.jsonl``."""
    for subject, splits in rows["mmlu"].items():
        for split, items in splits.items():
            out = root / "mmlu" / "data" / split / f"{subject}_{split}.csv"
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows(items)
    for name in ("gsm8k", "gsm8k_same"):
        for split, items in rows[name].items():
            _jsonl(root / name / f"{split}.jsonl", items)
    for subject, splits in rows["ceval"].items():
        for split, items in splits.items():
            out = root / "ceval" / split / f"{subject}_{split}.csv"
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows([CEVAL_COLUMNS, *items])
    return root


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def recorded_texts(path: Path) -> dict:
    """A recording of ``prompts_vs_peers.py --record``: per case, per sample id, the peer's texts;
    also ``rows`` (the fixture) and ``versions``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    cases = {name: {i: [start + rest for rest in tails] for i, (start, tails) in texts.items()}
             for name, texts in data.items() if name not in ("rows", "versions")}
    return {**cases, "rows": data["rows"], "versions": data["versions"]}


# -- compass --------------------------------------------------------------------------------------
@dataclass
class CompassSide:
    texts: dict[str, list[str]]  # per sample id: the prompt, or each prompt + scored continuation
    prompts: dict[str, str]  # per sample id: the prompt alone (what prompt_hash covers)
    preset: str | None  # the config's prompt_preset
    stop: list[str]  # generation: where it stops


def compass_prompts(case: Case, root: Path) -> CompassSide:
    """What the preset asks on the fixture, built by the suite's own config loader, dataset loader and
    prompt assembly (``compass.prompts.prompts_for``, as inference does)."""
    from compass import datasets, prompts
    from compass.config import load_config, read_python_config

    raw = read_python_config(REPO / case.config)
    listed = next(v for k, v in raw.items() if k.endswith("_datasets"))
    subjects = set(os.listdir(root / case.data / "dev")) if case.data == "ceval" else set()
    chosen = [dict(d, path=str(root / case.data)) for d in listed  # C-Eval: one dataset per fixture subject
              if not subjects or f"{d['name']}_dev.csv" in subjects]
    if case.same_split:
        chosen = [dict(d, reader_cfg=dict(d["reader_cfg"], train_split="test")) for d in chosen]
    config = root / f"{case.name}_config.py"
    config.write_text(f"models = [dict(abbr='m', path='unused')]\ndatasets = {chosen!r}\n")
    side = CompassSide({}, {}, None, [])
    for ds in load_config(config).datasets:
        inferencer = ds.infer_cfg.inferencer
        side.preset, side.stop = ds.prompt_preset, inferencer.stop
        for sample, prompt in prompts.prompts_for(ds, datasets.load(ds), case.name):
            side.prompts[sample.id] = prompt.text
            side.texts[sample.id] = ([prompt.text + inferencer.continuation.format(label=c)
                                      for c in inferencer.choices] if inferencer.type == "loglikelihood"
                                     else [prompt.text])
    return side


# -- lm-eval --------------------------------------------------------------------------------------
def write_lm_eval_tasks(rows: dict, root: Path, lm_eval_tasks: Path) -> Path:
    """Task YAMLs that include lm-eval's own ``mmlu_<subject>.yaml`` and ``gsm8k.yaml`` and only point
    them at the fixture (jsonl in the hub datasets' columns)."""
    tasks = root / "lm_eval_tasks"
    tasks.mkdir(parents=True, exist_ok=True)
    for subject, splits in rows["mmlu"].items():
        files = {split: _jsonl(root / "lm_eval_data" / f"{subject}_{split}.jsonl",
                               [dict(question=r[0], subject=subject, choices=r[1:5], answer=LETTERS.index(r[5]))
                                for r in items]) for split, items in splits.items()}
        _yaml(tasks / f"mmlu_{subject}.yaml", include=str(lm_eval_tasks / "mmlu" / "default" / f"mmlu_{subject}.yaml"),
              task=f"cpp_mmlu_{subject}", tag="cpp_mmlu", dataset_name=None, dataset_kwargs={"data_files": files})
    for subject, splits in rows["ceval"].items():
        files = {split: _jsonl(root / "lm_eval_data" / f"ceval_{subject}_{split}.jsonl",
                               [dict(zip(CEVAL_COLUMNS, r)) for r in items]) for split, items in splits.items()}
        _yaml(tasks / f"ceval_{subject}.yaml", include=str(lm_eval_tasks / "ceval" / f"ceval-valid_{subject}.yaml"),
              task=f"cpp_ceval_{subject}", tag="cpp_ceval", dataset_name=None, dataset_kwargs={"data_files": files})
    gsm8k = str(lm_eval_tasks / "gsm8k" / "gsm8k.yaml")
    files = {s: str(root / "gsm8k" / f"{s}.jsonl") for s in ("train", "test")}
    _yaml(tasks / "gsm8k.yaml", include=gsm8k, task="cpp_gsm8k", tag=[], dataset_name=None,
          dataset_kwargs={"data_files": files})
    _yaml(tasks / "gsm8k_same.yaml", include=gsm8k, task="cpp_gsm8k_same", tag=[], dataset_name=None,
          dataset_kwargs={"data_files": {"test": str(root / "gsm8k_same" / "test.jsonl")}}, fewshot_split="test")
    return tasks


def _yaml(path: Path, **cfg) -> None:
    # JSON values are YAML: no quoting surprises with "\n" or ": ".
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in {"dataset_path": "json", **cfg}.items()))


def run_lm_eval(venv: Path, tasks: Path, names: list[str], out: Path, num_fewshot: int | None) -> str:
    """lm-eval's own pipeline with its ``dummy`` model (no weights): the prompts it logs are those any
    model would get. Returns the command line."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(venv / "bin" / "lm_eval"), "run", "--model", "dummy", "--tasks", ",".join(names),
           "--include_path", str(tasks), "--output_path", str(out), "--log_samples"]
    if num_fewshot is not None:
        cmd += ["--num_fewshot", str(num_fewshot)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **OFFLINE}, cwd=out.parent)
    if proc.returncode != 0:
        raise RuntimeError(f"lm-eval failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return " ".join(cmd[1:])


def read_lm_eval(out: Path) -> dict[str, dict[str, dict]]:
    """Per task: per compass-style id, the prompts (context + continuation per choice, or the context)
    and the generation arguments."""
    found: dict[str, dict[str, dict]] = {}
    for path in sorted(out.rglob("samples_cpp_*.jsonl")):
        task = path.name[len("samples_"):].rsplit("_", 1)[0]
        family = next((f for f in ("cpp_mmlu", "cpp_ceval") if task.startswith(f + "_")), None)
        subject = task[len(family) + 1:] if family else None
        for line in filter(None, path.read_text(encoding="utf-8").split("\n")):  # not splitlines: U+2028 is text
            s = json.loads(line)
            args = [list(a.values()) for a in s["arguments"].values()]
            sid = f"{subject}/{s['doc_id']}" if subject else str(s["doc_id"])
            if isinstance(args[0][1], str):  # multiple choice: (context, " A") ...
                row = {"prompts": [ctx + cont for ctx, cont in args]}
            else:
                row = {"prompts": [args[0][0]], "gen_kwargs": args[0][1]}
            found.setdefault(family or task, {})[sid] = row
    return found
