"""Offline sources -> formatted ``Doc`` records.

Readers never raise on bad input: an unreadable or ill-encoded file is skipped and counted under
a reason, so one broken file cannot sink a long run.
"""
from __future__ import annotations

import ast
import glob
import json
import random
import re
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from compass.errors import CompassError

from .lang import guess_lang
from .records import Doc, StageReport

SOURCE_TYPES = ("synthetic", "stdlib", "jsonl", "text")
TEXT_SUFFIXES = {".txt", ".md", ".rst"}
SUFFIXES = {"jsonl": {".jsonl"}, "text": TEXT_SUFFIXES}
# Each reader's options and defaults: an option the reader does not know is a config error, not ignored.
OPTIONS: dict[str, dict] = {
    "synthetic": {"mmlu_per_subject": 300, "mc_shuffles": 1, "gsm8k": 2000, "facts_repeats": 3, "items_per_doc": 4,
                  "mmlu_items_per_doc": 0, "mmlu_subject_items": {}, "seed": 0},
    "stdlib": {"max_files": 200, "mode": "docstrings", "root": ""},
    "jsonl": {}, "text": {},
}


@dataclass
class SourceSpec:
    type: Literal["synthetic", "stdlib", "jsonl", "text"]
    name: str = ""            # label stored in Doc.source; defaults to the type
    path: str = ""            # jsonl/text: a file, a directory (recursive) or a glob
    text_key: str = "text"    # jsonl: field holding the text
    options: dict = field(default_factory=dict)  # type-specific knobs, see OPTIONS and the readers below

    def __post_init__(self):
        if self.type not in SOURCE_TYPES:
            raise ValueError(f"source type {self.type!r} is not one of {', '.join(SOURCE_TYPES)}")
        self.name = self.name or self.type

    def validate(self, where: str = "source") -> None:
        """Inputs that would silently give an empty or different corpus, caught before any work."""
        for key in self.options:
            if key not in OPTIONS[self.type]:
                known = ", ".join(OPTIONS[self.type]) or "none"
                raise CompassError(f"{where}.options.{key}: unknown option for a {self.type} source (known: {known})")
        if self.type == "stdlib" and self.options.get("mode", "docstrings") not in ("docstrings", "source"):
            raise CompassError(f"{where}.options.mode: must be docstrings or source, got {self.options['mode']!r}")
        if self.type == "stdlib" and self.options.get("root") and not Path(self.options["root"]).is_dir():
            raise CompassError(f"{where}.options.root: {self.options['root']} is not a directory")
        if self.type in SUFFIXES:
            if not self.path:
                raise CompassError(f"{where}.path: required for a {self.type} source")
            files = _expand(self.path, SUFFIXES[self.type])
            if not files or (len(files) == 1 and not files[0].exists()):
                wanted = "/".join(sorted(SUFFIXES[self.type]))
                raise CompassError(f"{where}.path: {self.path} matches no {wanted} file")


def _doc(spec: SourceSpec, key: str, text: str, lang: str | None = None, **meta) -> Doc:
    return Doc(id=f"{spec.name}/{key}", text=text, source=spec.name,
               lang=lang or guess_lang(text), meta=meta)


# -- synthetic: the suite's own benchmark generators (train split only) ---------------------------

def _mc_block(question: str, choices, answer: str) -> str:
    opts = "\n".join(f"{letter}. {choice}" for letter, choice in zip("ABCD", choices))
    return f"{question}\n{opts}\nAnswer: {answer}"


def _mc_variants(item, k: int, rng: random.Random) -> list[str]:
    """The item as given plus k-1 copies with the options re-ordered (answer letter follows).

    Seeing one question under several letters forces the model to bind the letter to the
    option's content instead of memorising a letter per question.
    """
    correct = item.choices["ABCD".index(item.answer)]
    out = [_mc_block(item.question, item.choices, item.answer)]
    for _ in range(k - 1):
        choices = list(item.choices)
        rng.shuffle(choices)
        out.append(_mc_block(item.question, choices, "ABCD"[choices.index(correct)]))
    return out


def _up_to(make, n: int, report: StageReport, what: str) -> list:
    """Up to ``n`` items: small template spaces (e.g. 280 train countries) hold fewer than asked."""
    while n > 0:
        try:
            return make(n)
        except ValueError as e:
            m = re.search(r"only (\d+)", str(e))
            fewer = int(m.group(1)) if m and int(m.group(1)) < n else n // 2
            report.counters[f"synthetic_capped:{what}"] = fewer
            n = fewer
    return []


def read_synthetic(spec: SourceSpec, report: StageReport) -> list[Doc]:
    from compass import synthetic as syn  # reference_model may import compass, never the reverse

    o = {**OPTIONS["synthetic"], **spec.options}
    # MC blocks per document (0: items_per_doc). Header + 6 blocks is the layout of a 5-shot MMLU prompt.
    mc_per_doc = o["mmlu_items_per_doc"] or o["items_per_doc"]
    rng = random.Random(o["seed"])
    docs: list[Doc] = []
    for subject in syn.MMLU_SUBJECTS:
        items = _up_to(lambda n, subject=subject: syn.mmlu_items(subject, "train", n, seed=o["seed"]),
                       o["mmlu_subject_items"].get(subject, o["mmlu_per_subject"]), report, subject)
        title = subject.replace("_", " ")
        blocks_all = [b for it in items for b in _mc_variants(it, o["mc_shuffles"], rng)]
        if o["mc_shuffles"] > 1:  # spread an item's variants over different documents
            rng.shuffle(blocks_all)
        for i in range(0, len(blocks_all), mc_per_doc):
            blocks = blocks_all[i:i + mc_per_doc]
            head = f"The following are multiple choice questions (with answers) about {title}.\n\n"
            docs.append(_doc(spec, f"mmlu/{subject}/{i}", head + "\n\n".join(blocks), "en",
                             kind="mmlu", subject=subject))
    rows = _up_to(lambda n: syn.gsm8k_items("train", n, seed=o["seed"]), o["gsm8k"], report, "gsm8k")
    for i in range(0, len(rows), o["items_per_doc"]):
        blocks = []
        for r in rows[i:i + o["items_per_doc"]]:
            cue = "Let's think step by step\n" if rng.random() < 0.5 else ""
            blocks.append(f"Question: {r['question']}\n{cue}Answer: {r['answer']}")
        docs.append(_doc(spec, f"gsm8k/{i}", "\n\n".join(blocks), "en", kind="gsm8k"))
    facts = syn.facts_corpus(seed=o["seed"])
    # Knowledge is only extractable when seen in several phrasings and orders (Allen-Zhu & Li,
    # "Physics of LMs 3.1"), so the fact sentences are also restated as short Q/A lines.
    for rep in range(o["facts_repeats"]):
        order = facts[:]
        rng.shuffle(order)
        for j in range(0, len(order), 8):
            lines = []
            for fact in order[j:j + 8]:
                country, capital = fact[len("The capital of "):-1].split(" is ")
                lines.append(rng.choice([fact, f"{capital} is the capital of {country}.",
                                         f"Q: What is the capital of {country}?\nA: {capital}"]))
            docs.append(_doc(spec, f"facts/{rep}/{j}", "\n".join(lines), "en", kind="facts"))
    report.counters["synthetic_docs"] += len(docs)
    return docs


# -- Python standard library sources / docstrings on this machine --------------------------------

def read_stdlib(spec: SourceSpec, report: StageReport) -> list[Doc]:
    o = {**OPTIONS["stdlib"], **spec.options}
    o["root"] = o["root"] or sysconfig.get_paths()["stdlib"]
    files = [p for p in sorted(Path(o["root"]).rglob("*.py"))
             if not any(part in ("test", "tests", "idlelib", "site-packages") for part in p.parts)]
    docs = []
    for path in files[: o["max_files"]]:
        text = _read_text(path, report)
        if text is None:
            continue
        rel = str(path.relative_to(o["root"]))
        if o["mode"] == "source":
            docs.append(_doc(spec, rel, text, "code", path=rel))
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            report.counters["skipped_file:syntax_error"] += 1
            continue
        text = docstrings(tree)
        if text:
            docs.append(_doc(spec, rel, text, path=rel))
    return docs


# -- user files ----------------------------------------------------------------------------------

def _expand(path: str, suffixes: set[str]) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        return sorted(q for q in p.rglob("*") if q.is_file() and q.suffix in suffixes)
    if any(ch in path for ch in "*?["):
        return sorted(Path(q) for q in glob.glob(path, recursive=True))
    return [p]


def _read_text(path: Path, report: StageReport) -> str | None:
    """Strict UTF-8 read; failures are counted as ``skipped_file:<reason>``, never raised."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        report.counters[f"skipped_file:unreadable:{type(e).__name__}"] += 1
        report.counters["skipped_files"] += 1
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        report.counters["skipped_file:bad_encoding"] += 1
        report.counters["skipped_files"] += 1
        return None


def read_text_files(spec: SourceSpec, report: StageReport) -> list[Doc]:
    docs = []
    for path in _expand(spec.path, TEXT_SUFFIXES):
        text = _read_text(path, report)
        if text is not None:
            docs.append(_doc(spec, path.name, text, path=str(path)))
    return docs


def read_jsonl(spec: SourceSpec, report: StageReport) -> list[Doc]:
    docs = []
    for path in _expand(spec.path, {".jsonl"}):
        text = _read_text(path, report)
        if text is None:
            continue
        for n, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                body = row[spec.text_key]
            except (json.JSONDecodeError, KeyError, TypeError):
                report.counters["skipped_line:bad_json_or_missing_key"] += 1
                continue
            if not isinstance(body, str):
                report.counters["skipped_line:text_not_a_string"] += 1
                continue
            meta = {k: v for k, v in row.items() if k not in (spec.text_key, "id", "lang")}
            key = str(row.get("id", f"{path.name}:{n}"))
            docs.append(_doc(spec, key, body, row.get("lang"), path=str(path), **meta))
    return docs


READERS = {"synthetic": read_synthetic, "stdlib": read_stdlib, "jsonl": read_jsonl, "text": read_text_files}


def load_sources(specs: list[SourceSpec], report: StageReport) -> list[Doc]:
    docs: list[Doc] = []
    for spec in specs:
        got = READERS[spec.type](spec, report)
        report.counters[f"source:{spec.name}"] += len(got)
        docs.extend(got)
    report.n_in = report.n_out = len(docs)
    return docs


def docstrings(tree: ast.AST) -> str:
    """A module's docstrings over 40 characters (shorter ones are mostly one-liners), blank-line separated."""
    parts = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            ds = ast.get_docstring(node)
            if ds and len(ds) > 40:
                parts.append(ds.strip())
    return "\n\n".join(parts)
