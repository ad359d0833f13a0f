"""Slurm runner: each job goes to ``sbatch --parsable`` and is watched until it leaves the queue.

Only standard Slurm is used: sbatch's own flags from the config (partition, gres, time, qos,
account, cpus per task, extra flags as given), the job id sbatch prints, ``squeue`` for jobs still
queued or running, then ``sacct`` (clusters with accounting) or ``scontrol show job`` (any cluster,
for ``MinJobAge`` after the end) for how a job ended. Retries and heartbeats come from the shared
loop (``drive.py``); interrupted (Ctrl-C, SIGTERM), the runner ``scancel``s every job it started and
waits until ``squeue`` shows none of them. Workers need the run directory at the same path on the
compute nodes (a shared filesystem), as with any runner that leaves the machine.
"""
from __future__ import annotations

import getpass
import logging
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from compass.errors import CompassError
from compass.runners.base import Job, Outcome
from compass.runners.drive import QUEUED, RUNNING, Attempt, LaunchError, Status, append_log, drive

if TYPE_CHECKING:
    from compass.config import RunnerCfg

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 5.0  # squeue is a request to a shared controller: poll gently
CANCEL_WAIT_S = 60.0  # after scancel, how long to wait for the jobs to leave squeue
WAITING = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED"}
# Flags the runner sets itself: a second value would break how it names, logs or tracks the job.
OWN_FLAGS = {"--parsable", "--wrap", "-o", "--output", "-e", "--error", "--open-mode", "-J", "--job-name",
             "-D", "--chdir", "-a", "--array", "-W", "--wait", "--test-only", "-H", "--hold"}
_TIME = re.compile(r"\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2}|UNLIMITED|INFINITE")


def check_time(value: str | None) -> None:
    if value is not None and not _TIME.fullmatch(value):
        raise ValueError(f"expected a Slurm time limit (MM, HH:MM:SS, D-HH, D-HH:MM:SS), got {value!r}")


def check_gres(value: str) -> None:
    try:
        value.format(num_gpus=1)
    except (KeyError, IndexError, ValueError):
        raise ValueError(f"expected a gres string with at most a {{num_gpus}} field, e.g. 'gpu:{{num_gpus}}', "
                         f"got {value!r}") from None


def check_flags(flags: list[str]) -> None:
    for flag in flags:
        name = flag.split("=", 1)[0]
        if name in OWN_FLAGS or (name.startswith("-") and not name.startswith("--") and name[:2] in OWN_FLAGS):
            raise ValueError(f"{flag!r}: compass sets this sbatch flag itself (it names, logs and tracks each job)")


def sbatch_argv(job: Job, cfg: RunnerCfg, cwd: str) -> list[str]:
    log_path = str(job.log.resolve()).replace("%", "%%")  # sbatch reads % as a filename pattern
    argv = ["sbatch", "--parsable", f"--job-name=compass-{job.id}", f"--output={log_path}", "--open-mode=append",
            f"--chdir={cwd}", f"--cpus-per-task={cfg.cpus_per_task}"]
    for flag, value in (("--partition", cfg.partition), ("--time", cfg.time), ("--qos", cfg.qos),
                        ("--account", cfg.account)):
        if value is not None:
            argv.append(f"{flag}={value}")
    if job.num_gpus > 0:
        argv.append(f"--gres={cfg.gres.format(num_gpus=job.num_gpus)}")
    # exec: the worker is the batch step itself, so scancel's signal reaches it directly.
    return [*argv, *cfg.extra_flags, f"--wrap=exec {shlex.join(job.argv)}"]


def _tool(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)
    except (OSError, subprocess.SubprocessError):
        return None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def end_state(job_id: str) -> tuple[str, int, int] | None:
    """How a job that left the queue ended: (state, exit code, signal), from sacct or scontrol."""
    proc = _tool("sacct", "-n", "-P", "-X", "-j", job_id, "-o", "State,ExitCode")
    if proc is not None and proc.returncode == 0:
        for line in proc.stdout.splitlines():
            state, _, code = line.partition("|")
            match = re.fullmatch(r"(\d+):(\d+)", code.strip())
            if state.strip() and match:
                return state.split()[0], int(match[1]), int(match[2])
    proc = _tool("scontrol", "show", "job", "-o", job_id)
    if proc is not None and proc.returncode == 0:
        state_m = re.search(r"\bJobState=(\S+)", proc.stdout)
        code_m = re.search(r"\bExitCode=(\d+):(\d+)", proc.stdout)
        if state_m and code_m:
            return state_m[1], int(code_m[1]), int(code_m[2])
    return None


def exit_status(job_id: str) -> tuple[int, str]:
    """The job's exit code as a subprocess's would read (-N: killed by signal N), and a note when
    Slurm, not the worker, ended it."""
    ended = end_state(job_id)
    if ended is None:
        return 1, f"slurm: job {job_id} left the queue and neither sacct nor scontrol knows how it ended"
    state, code, sig = ended
    if state == "COMPLETED" and code == 0:
        return 0, ""
    exit_code = code if code else -sig if sig else 1
    return exit_code, f"slurm: job {job_id} ended {state} (exit code {code}, signal {sig})"


class SlurmLauncher:
    def __init__(self, cfg: RunnerCfg, poll_s: float) -> None:
        missing = [t for t in ("sbatch", "squeue", "scancel") if shutil.which(t) is None]
        if missing:
            raise CompassError(f"infer.runner.type: SlurmRunner needs {', '.join(missing)} on PATH (a Slurm client)")
        self.cfg = cfg
        self.poll_s = poll_s
        self.user = getpass.getuser()
        self.cwd = os.getcwd()
        self.started: set[str] = set()  # every job id sbatch gave us that may still be in the queue

    def refuse(self, job: Job) -> str | None:
        return None  # the scheduler judges resources (sbatch refuses what the cluster cannot give)

    def fits(self, job: Job) -> bool:
        return True

    def start(self, job: Job, attempt: int) -> str:
        # sbatch exports its own environment to the job (--export=ALL): the job's settings go there.
        proc = _tool(*sbatch_argv(job, self.cfg, self.cwd), env={**os.environ, **job.env})
        if proc is None or proc.returncode != 0:
            raise LaunchError(f"sbatch: {_last_line(proc.stderr) if proc else 'could not run'}")
        job_id = proc.stdout.strip().split(";")[0]
        if not re.fullmatch(r"\d+", job_id):
            raise LaunchError(f"sbatch --parsable printed {proc.stdout.strip()!r}, not a job id")
        self.started.add(job_id)
        append_log(job, f"=== slurm job {job_id} ===")
        return job_id

    def queue(self) -> dict[str, str] | None:
        """State by job id of this user's queued and running jobs; None if squeue did not answer."""
        proc = _tool("squeue", "-h", "-u", self.user, "-o", "%i|%T")
        if proc is None or proc.returncode != 0:
            log.warning("squeue failed: %s", _last_line(proc.stderr) if proc else "could not run")
            return None
        return dict(line.strip().split("|", 1) for line in proc.stdout.splitlines() if "|" in line)

    def wait(self, attempts: list[Attempt]) -> bool:
        time.sleep(self.poll_s)
        return False

    def poll(self, attempts: list[Attempt]) -> list[Status]:
        queue = self.queue()
        statuses: list[Status] = []
        for a in attempts:
            if queue is None:
                statuses.append(RUNNING)  # no answer: decide nothing this time
            elif a.handle in queue:
                statuses.append(QUEUED if queue[a.handle] in WAITING else RUNNING)
            else:
                code, note = exit_status(a.handle)
                if note:
                    append_log(a.job, note)
                self.started.discard(a.handle)
                statuses.append(code)
        return statuses

    def kill(self, attempt: Attempt) -> None:
        _tool("scancel", attempt.handle)

    def release(self, attempt: Attempt) -> None:
        pass

    def cancel_all(self, attempts: list[Attempt]) -> None:
        ids = sorted(self.started)
        if not ids:
            return
        log.warning("cancelling slurm job(s) %s", " ".join(ids))
        _tool("scancel", *ids)
        deadline = time.monotonic() + CANCEL_WAIT_S
        while time.monotonic() < deadline:
            queue = self.queue()
            if queue is not None and not set(ids) & queue.keys():
                return
            time.sleep(0.5)
        log.warning("slurm job(s) still in squeue after scancel: %s", " ".join(ids))


def run(jobs: list[Job], cfg: RunnerCfg, *, max_workers: int, retry: int,
        on_tick: Callable[[], None] | None = None, pass_fds: tuple[int, ...] = ()) -> list[Outcome]:
    """The ``Runner`` interface on a Slurm cluster (``pass_fds``: a batch job inherits nothing of ours)."""
    launcher = SlurmLauncher(cfg, cfg.poll_s or DEFAULT_POLL_S)
    return drive(jobs, launcher, max_workers=max_workers, retry=retry, heartbeat_s=cfg.heartbeat_s, on_tick=on_tick)
