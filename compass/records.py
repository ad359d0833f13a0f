"""The typed records that pass between stages, and the one reader and writer of each file kind.

    Prediction   predictions/<model>/<dataset>.jsonl   written by inference, appended, never rewritten
    Scored       scored/<model>/<dataset>.jsonl        written by evaluation, from scratch each time
    Result       results/<model>/<dataset>.json        written by evaluation
    PredictionMeta, Event, Judgment: the bookkeeping files beside them
    ContaminationLabel, ModelEvidence   <out>/<dataset>.jsonl, .model.jsonl   ``compass contamination``

Every line and file carries ``schema_version``; a file written by another version is refused in one
line rather than half-read. ``docs/records.md`` documents the fields and ``docs/schemas/`` holds a
JSON Schema per record kind, generated from these classes (``python -m compass.records``).
Optional fields whose value is None are left out when written.
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from compass.errors import CompassError
from compass.schema import from_dict

SCHEMA_VERSION = 1
R = TypeVar("R")


# -- the records ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prediction:
    """What inference produced for one sample."""

    id: str
    infer_hash: str  # the model and prompt config that produced it (a resume refuses other hashes)
    prompt: str
    prediction: str | list[str]  # a list when the inferencer samples several completions
    gold: Any  # the dataset's reference answer (str, or structured: HumanEval tests, needle values)
    group: str | None = None  # a stratum such as an MMLU subject: per-group breakdowns
    cluster: str | None = None  # samples that are not independent share one (e.g. a passage id): the gate
    choice_logprobs: list[float] | None = None  # log-likelihood inference: summed log-prob of each choice
    finish_reason: str | list[str] | None = None  # generation, per completion: stop, eos, length (hit max_out_len), unknown
    completion_tokens: int | list[int] | None = None  # generation, per completion: tokens generated, where known
    batch_s: float | None = None  # wall time of the model call that produced this line (shared by its batch)
    question_at: int | None = None  # prompt[question_at:] is the sample's own part, after any few-shot examples
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True)
class Scored:
    """What evaluation concluded about one prediction: exactly one of ``correct`` and ``score``."""

    id: str
    evaluator: str  # the canonical evaluator name
    extracted: str | list[str]  # the answer(s) compared with gold, after the postprocessor
    correct: bool | None = None  # binary outcome
    score: float | None = None  # graded outcome in [0, 1]
    group: str | None = None
    cluster: str | None = None
    details: dict = field(default_factory=dict)  # evaluator-specific evidence (sandbox verdicts, judgments)
    schema_version: int = SCHEMA_VERSION

    def validate(self, where: str) -> None:
        if (self.correct is None) == (self.score is None):
            raise CompassError(f"{where}: a scored row holds exactly one of 'correct' and 'score'")
        if self.score is not None and not 0.0 <= self.score <= 1.0:
            raise CompassError(f"{where}.score: must be in [0, 1], got {self.score!r}")

    @property
    def value(self) -> float:
        return float(self.correct) if self.correct is not None else float(self.score or 0.0)


@dataclass(frozen=True)
class GroupStat:
    n: int
    value: float  # the primary metric within the group
    ci95: list[float]


@dataclass(frozen=True)
class Grid:
    """A length x depth table of mean scores (needle in a haystack); None where a cell has no sample."""

    lengths: list[int]
    depths: list[float]
    score: list[list[float | None]]
    n: list[list[int]]


@dataclass(frozen=True)
class Timing:
    """Where inference time went, summed over every attempt (a resumed run adds to it). Evaluation
    time is not here but in ``configs/run_info.json``: results must re-evaluate to the same bytes."""

    model_load_s: float = 0.0  # loading the task's model (shared by the datasets of its task)
    infer_s: float = 0.0  # the inference loop of this dataset
    prompt_tokens: int = 0  # tokens read (prompts, scored choices), as the backend counts them
    completion_tokens: int = 0  # tokens written
    tokens_per_s: float = 0.0  # (prompt + completion tokens) / infer_s
    cost_usd: float = 0.0  # for a model with price_per_mtok: what these tokens cost
    reasoning_tokens: int = 0  # of the completion tokens, those an API reports as hidden reasoning


@dataclass(frozen=True)
class Result:
    """One model on one dataset: metrics with 95% intervals, and where they came from."""

    model: str
    dataset: str
    n: int
    primary: str  # the metric leaderboards show
    metrics: dict[str, float]
    ci95: dict[str, list[float]]
    evaluator: str
    config_hash: str  # model and dataset config, evaluation included
    infer_hash: str  # model and prompt config only
    compass_version: str
    model_path: str
    dataset_path: str
    prompt_hash: str = ""  # of every (id, prompt) pair: two results are comparable only when these match
    prompt_preset: str | None = None  # the dataset config's prompt_preset (e.g. "lm-eval")
    breakdown: dict[str, GroupStat] = field(default_factory=dict)  # per group, primary metric
    grids: dict[str, Grid] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)  # API requests retried during inference, by cause
    timing: Timing = field(default_factory=Timing)
    schema_version: int = SCHEMA_VERSION

    def validate(self, where: str) -> None:
        if self.primary not in self.metrics or set(self.ci95) != set(self.metrics):
            raise CompassError(f"{where}: every metric needs its ci95, and primary {self.primary!r} must be one")


@dataclass(frozen=True)
class PredictionMeta:
    """Beside each predictions file: what a complete file holds, so the main process can tell
    without loading the dataset. A cache: a damaged one is rebuilt from the dataset."""

    infer_hash: str
    n: int  # samples in the dataset (after test_range)
    ids_sha256: str  # of the sorted sample ids
    retries: dict[str, int] = field(default_factory=dict)
    timing: Timing = field(default_factory=Timing)
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True)
class Event:
    """One batch of sample ids sent to the model (``logs/infer/<task>.events.jsonl``)."""

    dataset: str
    ids: list[str]
    time: float
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True)
class Judgment:
    """A judge model's answer to one prompt, cached under a hash of the judge config and the prompt."""

    key: str
    judgment: str
    id: str  # the sample the prompt was about
    prompt: str
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True)
class JudgeUsage:
    """What a judge model's requests for one dataset's judgments spent, added up over evaluations
    (only ``prompt_tokens``, ``completion_tokens``, ``reasoning_tokens`` and ``cost_usd`` of ``timing``)."""

    judge: str  # the judge model's abbr
    timing: Timing = field(default_factory=Timing)
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True)
class FieldCheck:
    tokens: int  # normalised tokens of the field (docs/contamination.md)
    label: Literal["clean", "partial", "contaminated"]
    coverage: float | None = None  # share of its informative tokens inside corpus n-grams; None: not checked
    document_coverage: float | None = None  # the same share, by spans shared with one document (longest method)
    longest_match: int | None = None  # tokens of the longest span shared with one corpus document
    near_duplicate: float | None = None  # Jaccard similarity with the closest corpus passage
    document: str | None = None  # the corpus document matched


@dataclass(frozen=True)
class ContaminationLabel:
    """One benchmark sample checked against a corpus (``compass contamination``, docs/contamination.md)."""

    id: str
    # The worst label of its checked fields; unchecked: no field long enough to check (never "clean").
    label: Literal["clean", "partial", "contaminated", "unchecked"]
    coverage: float  # the deciding field's coverage, in [0, 1]: one-document when computed, else n-gram
    longest_match: int  # tokens, over all fields
    methods: list[str]  # the methods that ran (ngram, longest, minhash, model)
    field: str | None = None  # question, answer or question+answer: the field that decided the label
    document: str | None = None  # the corpus document that matched it
    near_duplicate: float | None = None
    group: str | None = None
    checks: dict[str, FieldCheck] = dataclasses.field(default_factory=dict)  # per field
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True)
class ModelEvidence:
    """A model's log-probs on one benchmark sample (``<out>/<dataset>.model.jsonl``): evidence, never a label."""

    id: str
    model: str
    tokens: int
    min_k: float | None  # Min-K%: mean of the lowest 20% token log-probs (None: too few tokens)
    min_k_pp: float | None  # Min-K%++: the same over standardised log-probs
    reference_min_k_pp: float | None = None  # of the matched reference (numbers changed); None: no numbers
    schema_version: int = SCHEMA_VERSION


# -- encoding ---------------------------------------------------------------------------------
def encode(record: Any) -> dict[str, Any]:
    """A record as a JSON object; optional fields holding None are left out."""
    out = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if value is None and f.default is None:
            continue
        out[f.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def dumps(record: Any, indent: int | None = None) -> str:
    """JSON text of a record. NaN and infinity are refused: they are not JSON, and no metric may be one."""
    try:
        return json.dumps(encode(record), ensure_ascii=False, allow_nan=False, indent=indent)
    except ValueError as exc:
        raise ValueError(f"{type(record).__name__} {getattr(record, 'id', '')}: {exc}") from None


def decode(cls: type[R], obj: Any, where: str) -> R:
    """A record from a JSON value; a wrong version, type or field is one line naming ``where``."""
    if not isinstance(obj, dict):
        raise CompassError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    version = obj.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CompassError(f"{where}: schema_version {version!r}, this compass reads {SCHEMA_VERSION}"
                           + (" (written by an older compass: start a new run)" if version is None
                              or (isinstance(version, int) and version < SCHEMA_VERSION) else ""))
    return from_dict(cls, obj, where)


def parse_line(line: str | bytes, cls: type[R], where: str) -> R:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CompassError(f"{where}: not valid JSON ({getattr(exc, 'msg', exc)})") from None
    return decode(cls, obj, where)


# -- JSON lines -------------------------------------------------------------------------------
def iter_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-empty line of a JSON-lines file (``.gz`` read as gzip), for
    input data such as datasets; a bad line is one error naming it."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield lineno, json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise CompassError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise CompassError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (OSError, EOFError) as exc:  # a damaged .gz: BadGzipFile is an OSError, a truncated one an EOFError
        what = "not a valid gzip file" if path.suffix == ".gz" else "cannot read"
        raise CompassError(f"{path}: {what} ({type(exc).__name__}: {exc})") from None


def read_lines(path: Path, cls: type[R]) -> list[R]:
    """Every record of a file this suite wrote in one piece (scored rows); any bad line is an error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CompassError(f"{path}: file not found") from None
    return [parse_line(raw, cls, f"{path}:{i}") for i, raw in enumerate(data.splitlines(), 1) if raw.strip()]


@dataclass(frozen=True)
class Damaged:
    lineno: int
    text: str
    reason: str


@dataclass
class Log:
    """An append-only file's records, and the lines that could not be read (kept aside, never lost)."""

    records: list
    damaged: list[Damaged]


def read_log(path: Path, cls: type[R]) -> Log:
    """Records of an append-only file (predictions, events, judgments). A line that is not a valid
    record (garbage, or torn by a crash mid-write) is reported in ``damaged``; the lines after it
    still count."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Log([], [])
    records, damaged = [], []
    for lineno, raw in enumerate(data.splitlines(keepends=True), 1):
        if not raw.strip():
            continue
        where = f"{path}:{lineno}"
        if not raw.endswith(b"\n"):
            damaged.append(Damaged(lineno, raw.decode("utf-8", "replace"), "torn last line (no newline)"))
            continue
        try:
            records.append(parse_line(raw, cls, where))
        except CompassError as exc:
            damaged.append(Damaged(lineno, raw.decode("utf-8", "replace").rstrip("\n"), str(exc)))
    return Log(records, damaged)


def quarantine(path: Path, keep: list, damaged: list[Damaged]) -> Path | None:
    """Move damaged lines (and any records not in ``keep``) out of an append-only file: they go to
    ``<file>.quarantine.jsonl`` with their line numbers first (made durable), then the file is
    rewritten atomically with ``keep``, in order. Returns the quarantine file, if anything went there."""
    if not damaged:
        return None
    side = path.with_name(path.name.removesuffix(".jsonl") + ".quarantine.jsonl")
    with side.open("a", encoding="utf-8") as f:
        for d in damaged:
            f.write(json.dumps({"file": path.name, "line": d.lineno, "reason": d.reason, "text": d.text},
                               ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    write_lines(path, keep)
    return side


class Appender:
    """Appends records to a JSON-lines file, each batch durable (fsync) before ``append`` returns;
    with ``sync=False`` only written (a killed process keeps it; a machine crash may not)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        if self._file.tell() > 0:  # a line torn by a crash must not swallow the next record
            with path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    self._file.write("\n")

    def append(self, records: Iterable[Any], sync: bool = True) -> None:
        self._file.write("".join(dumps(r) + "\n" for r in records))
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_lines(path: Path, records: Iterable[Any]) -> None:
    """A whole JSON-lines file at once, atomically (readers see the old file or the new one)."""
    from compass.store import write_text_atomic

    write_text_atomic(path, "".join(dumps(r) + "\n" for r in records))


def write_record(path: Path, record: Any) -> None:
    """A JSON file holding one record (a result, a meta file), atomically."""
    from compass.store import write_text_atomic

    write_text_atomic(path, dumps(record, indent=2) + "\n")


def read_record(path: Path, cls: type[R]) -> R:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CompassError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise CompassError(f"{path}: not UTF-8 text") from None
    return parse_line(text, cls, str(path))


def try_read_record(path: Path, cls: type[R]) -> R | None:
    """The record, or None when the file is missing or damaged (for caches that can be rebuilt)."""
    try:
        return read_record(path, cls)
    except CompassError:
        return None


# -- JSON Schema ------------------------------------------------------------------------------
KINDS: dict[str, type] = {"prediction": Prediction, "scored": Scored, "result": Result,
                          "prediction_meta": PredictionMeta, "event": Event, "judgment": Judgment,
                          "contamination_label": ContaminationLabel, "model_evidence": ModelEvidence}


def json_schema(cls: type) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for a record class, from its type hints."""
    from compass.schema import json_schema_of

    schema = json_schema_of(cls)
    schema["properties"]["schema_version"] = {"const": SCHEMA_VERSION}
    schema["required"].append("schema_version")  # a default for writers; readers insist on it
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://compass.invalid/schemas/{_kind_name(cls)}.schema.json",
            "title": cls.__name__, "description": (cls.__doc__ or "").strip().splitlines()[0], **schema}


def _kind_name(cls: type) -> str:
    return next(k for k, c in KINDS.items() if c is cls)


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, cls in KINDS.items():
        path = directory / f"{kind}.schema.json"
        path.write_text(json.dumps(json_schema(cls), indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":  # python -m compass.records [DIR]: regenerate docs/schemas
    import sys

    for written in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(written)
