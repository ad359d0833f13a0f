"""The run directory on disk: its layout, atomic writes, and crash-safe prediction files.

    outputs/<config-name>/<timestamp>/
      .lock               held while a run (or one of its workers) uses the directory
      configs/            the config file as given and as resolved (JSON)
      tasks/              one JSON file per task: what each worker runs
      predictions/<model>/<dataset>.jsonl        one line per sample, appended as produced
      predictions/<model>/<dataset>.meta.json    what a complete file holds (a rebuildable cache)
      predictions/<model>/<dataset>.quarantine.jsonl   damaged lines moved aside, with line numbers
      predictions/<model>/<dataset>.part-<start>-<stop>.jsonl   one shard's, until all merge (size partitioner)
      scored/<model>/<dataset>.jsonl             per-sample outcomes, rewritten by each evaluation
      results/<model>/<dataset>.json
      judgments/<model>/<dataset>.jsonl          a judge model's answers, cached
      summary/summary.{txt,csv,md,html}
      logs/{infer,eval}/<task>.log, logs/infer/<task>.events.jsonl

Model and dataset names become path parts only through :func:`safe_name`. The record formats are
in ``compass.records``.
"""
from __future__ import annotations

import fcntl
import functools
import glob
import json
import os
import re
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from compass.errors import CompassError

TIMESTAMP = "%Y%m%d_%H%M%S"
_PLAIN_NAME = re.compile(r"[\w.+-]+")  # \w: unicode letters and digits too


def safe_name(name: str, what: str = "name") -> str:
    """A model or dataset name as one safe file name: itself when plain, else percent-encoded, so
    ``myorg/model`` and ``../x`` stay inside their directory and two names never share a file."""
    if not name or not name.strip():
        raise CompassError(f"{what}: must not be empty")
    if _PLAIN_NAME.fullmatch(name) and not name.startswith(".") and "%" not in name:
        text = name
    else:
        text = quote(name, safe="").replace(".", "%2E") if name.startswith(".") else quote(name, safe="")
    if len(text.encode()) > 200:
        raise CompassError(f"{what}: {name[:40]!r}... is too long to name a file ({len(text.encode())} bytes as one)")
    return text


def name_of(file_name: str) -> str:
    """The name :func:`safe_name` turned into ``file_name``."""
    return unquote(file_name)


@functools.cache
def _file_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temp file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, _file_mode())  # mkstemp makes files 0600; teammates and web servers read reports
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
    def create(cls, work_dir: Path, config_name: str) -> RunDir:
        base = work_dir / config_name
        stamp = time.strftime(TIMESTAMP)
        while (base / stamp).exists():  # two runs in the same second get distinct directories
            time.sleep(1)
            stamp = time.strftime(TIMESTAMP)
        (base / stamp).mkdir(parents=True)
        return cls(base / stamp)

    @classmethod
    def resume(cls, work_dir: Path, config_name: str, stamp: str | None) -> RunDir:
        base = work_dir / config_name
        # Only timestamped directories are runs (others, such as contamination/, live beside them).
        runs = sorted(p.name for p in base.glob("*") if p.is_dir() and re.fullmatch(r"\d{8}_\d{6}", p.name)) \
            if base.is_dir() else []
        if not runs:
            raise CompassError(f"{base}: no earlier run to resume")
        if stamp is None:
            return cls(base / runs[-1])
        if stamp not in runs:
            raise CompassError(f"{base / stamp}: no such run to resume (latest is {runs[-1]})")
        return cls(base / stamp)

    def _file(self, kind: str, model: str, dataset: str, suffix: str) -> Path:
        return self.root / kind / safe_name(model, "model abbr") / f"{safe_name(dataset, 'dataset abbr')}{suffix}"

    def predictions(self, model: str, dataset: str, part: str | None = None) -> Path:
        """The dataset's predictions, or one shard's (``part``: its sample range), until shards merge."""
        return self._file("predictions", model, dataset, f".part-{part}.jsonl" if part else ".jsonl")

    def prediction_parts(self, model: str, dataset: str) -> list[str]:
        """The shards (``part`` names) whose predictions files exist for this dataset."""
        whole = self.predictions(model, dataset)
        stem = whole.name[:-len(".jsonl")] + ".part-"
        return sorted(p.name[len(stem):-len(".jsonl")] for p in whole.parent.glob(f"{glob.escape(stem)}*.jsonl"))

    def prediction_meta(self, model: str, dataset: str, part: str | None = None) -> Path:
        return self._file("predictions", model, dataset, f".part-{part}.meta.json" if part else ".meta.json")

    def scored(self, model: str, dataset: str) -> Path:
        return self._file("scored", model, dataset, ".jsonl")

    def result(self, model: str, dataset: str) -> Path:
        return self._file("results", model, dataset, ".json")

    def judgments(self, model: str, dataset: str) -> Path:
        return self._file("judgments", model, dataset, ".jsonl")

    def judge_usage(self, model: str, dataset: str) -> Path:
        """What the judge's requests for this dataset's judgments cost (a ``Timing``'s token counts)."""
        return self._file("judgments", model, dataset, ".usage.json")

    def task_file(self, task_id: str) -> Path:
        return self.root / "tasks" / f"{task_id}.json"

    def log(self, stage: str, task_id: str, suffix: str = ".log") -> Path:
        return self.root / "logs" / stage / f"{task_id}{suffix}"

    @property
    def summary_dir(self) -> Path:
        return self.root / "summary"

    def lock(self, what: str) -> RunLock:
        return RunLock.acquire(self.root / ".lock", what)


class RunLock:
    """An exclusive lock on a run directory. Workers inherit its descriptor (``fd``), so the lock
    stays held while any of them lives, even one orphaned by a killed main process."""

    def __init__(self, fd: int):
        self.fd = fd

    @classmethod
    def acquire(cls, path: Path, what: str) -> RunLock:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, _file_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 500, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise CompassError(f"{path.parent}: in use by {holder} (or its workers); wait for it to finish, "
                               f"or stop it, then resume") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} ({what}, since {time.strftime('%Y-%m-%d %H:%M:%S')})"
                  .encode(), 0)
        os.set_inheritable(fd, True)
        return cls(fd)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0
