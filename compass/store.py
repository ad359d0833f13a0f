"""The run directory on disk: its layout, atomic writes, and crash-safe prediction files.

    outputs/<config-name>/<timestamp>/
      configs/            the config file as given and as resolved (JSON)
      tasks/              one JSON file per task: what each worker runs
      predictions/<model>/<dataset>.jsonl        one line per sample, appended as produced
      predictions/<model>/<dataset>.meta.json    inference hash, sample count, completeness
      results/<model>/<dataset>.json
      summary/summary.{txt,csv,md}
      logs/{infer,eval}/<task>.log, logs/infer/<task>.events.jsonl
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from compass.errors import CompassError

TIMESTAMP = "%Y%m%d_%H%M%S"


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temp file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompassError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise CompassError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None


@dataclass(frozen=True)
class RunDir:
    root: Path

    @classmethod
    def create(cls, work_dir: Path, config_name: str) -> "RunDir":
        base = work_dir / config_name
        stamp = time.strftime(TIMESTAMP)
        while (base / stamp).exists():  # two runs in the same second get distinct directories
            time.sleep(1)
            stamp = time.strftime(TIMESTAMP)
        (base / stamp).mkdir(parents=True)
        return cls(base / stamp)

    @classmethod
    def resume(cls, work_dir: Path, config_name: str, stamp: str | None) -> "RunDir":
        base = work_dir / config_name
        runs = sorted(p.name for p in base.glob("*") if p.is_dir()) if base.is_dir() else []
        if not runs:
            raise CompassError(f"{base}: no earlier run to resume")
        if stamp is None:
            return cls(base / runs[-1])
        if stamp not in runs:
            raise CompassError(f"{base / stamp}: no such run to resume (latest is {runs[-1]})")
        return cls(base / stamp)

    def predictions(self, model: str, dataset: str) -> Path:
        return self.root / "predictions" / model / f"{dataset}.jsonl"

    def prediction_meta(self, model: str, dataset: str) -> Path:
        return self.root / "predictions" / model / f"{dataset}.meta.json"

    def result(self, model: str, dataset: str) -> Path:
        return self.root / "results" / model / f"{dataset}.json"

    def task_file(self, task_id: str) -> Path:
        return self.root / "tasks" / f"{task_id}.json"

    def log(self, stage: str, task_id: str, suffix: str = ".log") -> Path:
        return self.root / "logs" / stage / f"{task_id}{suffix}"

    @property
    def summary_dir(self) -> Path:
        return self.root / "summary"


def recover_jsonl(path: Path) -> list[dict]:
    """Valid lines of an append-only jsonl file; a torn last line (crash mid-write) is cut off."""
    if not path.exists():
        return []
    data = path.read_bytes()
    rows, good_bytes = [], 0
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            break  # the writer died before finishing this line
        try:
            rows.append(json.loads(raw))
        except json.JSONDecodeError:
            break
        good_bytes += len(raw)
    if good_bytes != len(data):
        with path.open("r+b") as f:
            f.truncate(good_bytes)
    return rows


class JsonlAppender:
    """Appends lines and makes each batch durable before returning."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def append(self, rows: Iterable[dict]) -> None:
        self._file.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0
