"""Ray runner: each job is a Ray task that runs the worker's command line on some node of a cluster.

``runner.address``: None (or ``"local"``) starts a Ray instance on this machine for the run and
stops it after; ``"auto"`` joins the cluster this machine belongs to; ``"HOST:PORT"`` or
``"ray://HOST:PORT"`` a given one. Each task asks Ray for ``cpus_per_task`` CPUs and its model's
``run_cfg.num_gpus`` GPUs (Ray sets ``CUDA_VISIBLE_DEVICES`` to the ones it grants). The worker's
output is appended to the job's log in the run directory, which must be at the same path on every
node (a shared filesystem), as are the task files and predictions. Retries and heartbeats come from
the shared loop (``drive.py``); interrupted, every task in flight is cancelled with its worker.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from compass.errors import CompassError
from compass.runners.base import Job, Outcome
from compass.runners.drive import QUEUED, RUNNING, Attempt, Status, append_log, drive
from compass.tasks.worker import PARENT_ENV

if TYPE_CHECKING:
    from compass.config import RunnerCfg

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 0.5
# Ray's switch for "single machine": every listener and address on loopback (its default on a
# laptop); set for a local instance or a loopback address, so nothing listens outside this machine.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
# The driver's environment goes with each task (as sbatch's --export=ALL does), except what
# belongs to the node running it.
NODE_OWN = ("CUDA_VISIBLE_DEVICES", "RAY_", "OMP_NUM_THREADS", PARENT_ENV)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def run_worker(argv: list[str], log_path: str, cwd: str, env: dict[str, str]) -> int:
    """The body of every Ray task (on the node Ray picked): run the worker, output to its log.
    The worker dies with this process, so cancelling the task (which kills it) stops the worker too."""
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1", PARENT_ENV: str(os.getpid())}
    with open(log_path, "a", encoding="utf-8") as out:
        out.write(f"=== ray: started on {socket.gethostname()}, pid {os.getpid()} ===\n")
        out.flush()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=full_env, preexec_fn=_die_with_parent)
        return proc.wait()


def _is_loopback(address: str | None) -> bool:
    if address in (None, "local"):
        return True
    host = str(address).removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


class RayLauncher:
    def __init__(self, cfg: RunnerCfg, poll_s: float) -> None:
        if _is_loopback(cfg.address):
            os.environ.setdefault(LOOPBACK_ENV, "0")  # read when ray is imported, below
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            import ray
        except ImportError:
            raise CompassError("infer.runner.type: RayRunner needs the ray package (pip install 'compass-eval[ray]')") \
                from None
        self.ray = ray
        self.cfg = cfg
        self.poll_s = poll_s
        self.cwd = os.getcwd()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(NODE_OWN)}
        self.temp_dir: str | None = None
        kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        if cfg.address in (None, "local"):
            self.temp_dir = tempfile.mkdtemp(prefix="compass-ray-")  # short: Ray's socket paths must fit
            kwargs.update(address="local", include_dashboard=False, _temp_dir=self.temp_dir)
        else:
            kwargs.update(address=cfg.address)
            if _is_loopback(cfg.address):
                kwargs.update(_node_ip_address="127.0.0.1")
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            self.close()
            raise CompassError(f"infer.runner.address: cannot reach Ray at {cfg.address or 'a local instance'}: "
                               f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") \
                from None
        self.gpus = int(ray.cluster_resources().get("GPU", 0))
        self.remote = ray.remote(run_worker)
        self.logs_size: dict[Any, int] = {}

    def refuse(self, job: Job) -> str | None:
        if job.num_gpus > self.gpus:
            return f"needs {job.num_gpus} GPUs, the Ray cluster has {self.gpus}"
        return None

    def fits(self, job: Job) -> bool:
        return True  # Ray queues a task until a node has its resources

    def start(self, job: Job, attempt: int) -> Any:
        log_path = job.log.resolve()
        ref = self.remote.options(num_cpus=self.cfg.cpus_per_task, num_gpus=job.num_gpus, max_retries=0,
                                  name=f"compass:{job.id}").remote(job.argv, str(log_path), self.cwd,
                                                                  {**self.env, **job.env})
        self.logs_size[ref] = log_path.stat().st_size  # the task writes a line once a node runs it
        return ref

    def wait(self, attempts: list[Attempt]) -> bool:
        time.sleep(self.poll_s)
        return False

    def poll(self, attempts: list[Attempt]) -> list[Status]:
        refs = [a.handle for a in attempts]
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        statuses: list[Status] = []
        for a in attempts:
            if a.handle in ready:
                statuses.append(self._returncode(a))
            elif a.job.log.stat().st_size == self.logs_size[a.handle]:
                statuses.append(QUEUED)
            else:
                statuses.append(RUNNING)
        return statuses

    def _returncode(self, attempt: Attempt) -> int:
        try:
            return int(self.ray.get(attempt.handle))
        except self.ray.exceptions.RayError as exc:  # the task's worker or node died, or it was cancelled
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            append_log(attempt.job, f"ray: {type(exc).__name__}: {first}")
            return 1

    def kill(self, attempt: Attempt) -> None:
        self.ray.cancel(attempt.handle, force=True)

    def release(self, attempt: Attempt) -> None:
        self.logs_size.pop(attempt.handle, None)

    def cancel_all(self, attempts: list[Attempt]) -> None:
        for a in attempts:
            with contextlib.suppress(Exception):
                self.ray.cancel(a.handle, force=True)
        with contextlib.suppress(Exception):
            self.ray.wait([a.handle for a in attempts], num_returns=len(attempts), timeout=30)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ray.shutdown()
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def run(jobs: list[Job], cfg: RunnerCfg, *, max_workers: int, retry: int,
        on_tick: Callable[[], None] | None = None, pass_fds: tuple[int, ...] = ()) -> list[Outcome]:
    """The ``Runner`` interface on a Ray cluster (``pass_fds``: a task on another node inherits nothing of ours)."""
    launcher = RayLauncher(cfg, cfg.poll_s or DEFAULT_POLL_S)
    try:
        return drive(jobs, launcher, max_workers=max_workers, retry=retry, heartbeat_s=cfg.heartbeat_s,
                     on_tick=on_tick)
    finally:
        launcher.close()
