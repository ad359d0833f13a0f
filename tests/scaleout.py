"""What the Ray and Slurm runner tests share: a two-model × three-dataset config, a watcher that
SIGKILLs one inference worker mid-task, and the count of finished samples sent to the model again."""
from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

from compass import records
from compass.synthetic import write_gsm8k, write_mmlu

from helpers import gsm8k_dataset, mmlu_dataset, write_config

KILLED_MODEL = "tiny-a"  # batch size 1: many batches, so a kill lands mid-task


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def two_by_three(tmp_path: Path, tiny_model: Path, runner: dict) -> Path:
    """Two models (the same weights, different batch sizes: their predictions must agree) × three datasets."""
    data = tmp_path / "data"
    mmlu = write_mmlu(data / "mmlu", subjects=["elementary_arithmetic", "unit_conversion"], n_dev=3, n_val=2, n_test=16)
    mmlu_b = write_mmlu(data / "mmlu-b", subjects=["number_comparison"], n_dev=3, n_val=2, n_test=16)
    gsm8k = write_gsm8k(data / "gsm8k", n_train=3, n_test=16)
    models = [dict(abbr=KILLED_MODEL, path=str(tiny_model), batch_size=1),
              dict(abbr="tiny-b", path=str(tiny_model), batch_size=4)]
    datasets = [mmlu_dataset(mmlu), mmlu_dataset(mmlu_b, abbr="mmlu-b"), gsm8k_dataset(gsm8k)]
    return write_config(tmp_path / "scale.py", models, datasets,
                        infer=dict(runner=dict(max_num_workers=2, retry=1, **runner)))


def worker_pids(root: Path, module: str = "compass.tasks.infer", task: str = KILLED_MODEL) -> list[int]:
    """Processes running ``python -m MODULE <root>/.../tasks/<task>.json`` (this test's own only)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if module in argv and any(a.startswith(str(root)) and a.endswith(f"/tasks/{task}.json") for a in argv):
            pids.append(int(proc.name))
    return pids


def predicted_ids(run_dir: Path, model: str) -> set[tuple[str, str]]:
    """(dataset, id) of every whole prediction line the model has (a torn last line is not one)."""
    done = set()
    for path in (run_dir / "predictions" / model).glob("*.jsonl"):
        for line in path.read_text(errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            done.add((path.stem, row["id"]))
    return done


class KillOnce(threading.Thread):
    """SIGKILLs the killed model's inference worker once its events file shows ``after`` batches,
    then records what was predicted at that moment."""

    def __init__(self, outputs: Path, after: int = 3) -> None:
        super().__init__(daemon=True)
        self.outputs, self.after = outputs, after
        self.killed_at: float | None = None
        self.run_dir: Path | None = None
        self.done_at_kill: set[tuple[str, str]] = set()

    def run(self) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            for events in self.outputs.glob(f"*/*/logs/infer/{KILLED_MODEL}.events.jsonl"):
                if len(events.read_text().splitlines()) >= self.after:
                    self._kill(events.parent.parent.parent)
                    return
            time.sleep(0.02)

    def _kill(self, run_dir: Path) -> None:
        pids = worker_pids(run_dir)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.killed_at = time.time()
        while any(Path(f"/proc/{pid}").exists() and "zombie" not in _status(pid) for pid in pids):
            time.sleep(0.01)
        self.run_dir = run_dir
        self.done_at_kill = predicted_ids(run_dir, KILLED_MODEL) if pids else set()


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"


def recomputed(killer: KillOnce) -> tuple[set[tuple[str, str]], list[tuple[str, str]]]:
    """Samples sent to the model after the kill, and those of them that were already predicted."""
    assert killer.run_dir is not None and killer.killed_at is not None
    events = records.read_log(killer.run_dir / "logs" / "infer" / f"{KILLED_MODEL}.events.jsonl", records.Event).records
    after = [(e.dataset, i) for e in events if e.time > killer.killed_at for i in e.ids]
    return set(after), [s for s in after if s in killer.done_at_kill]


def check_survived_kill(outputs: Path, killer: KillOnce) -> Path:
    """The run finished every model × dataset, the killed task in two attempts, and no sample
    predicted before the kill was sent to the model again. Returns the run directory."""
    (run,) = list((outputs / "scale").iterdir())
    assert killer.run_dir == run and killer.killed_at is not None, "the worker was never killed"
    datasets = ("mmlu-mini", "mmlu-b", "gsm8k-mini")
    for model in (KILLED_MODEL, "tiny-b"):
        for ds in datasets:
            assert (run / "results" / model / f"{ds}.json").is_file(), (model, ds)
    assert (run / "logs" / "infer" / f"{KILLED_MODEL}.log").read_text().count("=== attempt ") == 2
    after, again = recomputed(killer)
    assert killer.done_at_kill and after, "the kill did not land mid-task"
    assert again == [], f"{len(again)} finished samples recomputed: {again[:5]}"
    everything = predicted_ids(run, "tiny-b")
    assert predicted_ids(run, KILLED_MODEL) == everything == killer.done_at_kill | after
    for ds in datasets:  # the resumed predictions are the ones an uninterrupted worker made
        a = {p.id: p.prediction for p in records.read_log(run / "predictions" / KILLED_MODEL / f"{ds}.jsonl",
                                                           records.Prediction).records}
        b = {p.id: p.prediction for p in records.read_log(run / "predictions" / "tiny-b" / f"{ds}.jsonl",
                                                           records.Prediction).records}
        assert a == b, ds
    return run
