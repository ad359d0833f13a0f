"""The local runner's heartbeats and signals, and the runner keys of a config (every runner shares
the loop in compass/runners/drive.py, so what holds here holds for Ray and Slurm too)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compass.config import RunnerCfg, load_config
from compass.errors import CompassError
from compass.runners import RUNNERS, Job
from compass.runners.drive import Attempt, drive
from compass.runners.heartbeat import EXIT_STALLED
from compass.runners.local import LocalLauncher
from compass.runners.slurm import sbatch_argv

from helpers import gsm8k_dataset, write_config
from scaleout import worker_pids

HANG = "import time; print('started', flush=True); time.sleep(600)"


def test_a_stalled_worker_is_killed_retried_and_reported(tmp_path):
    marker = tmp_path / "second-attempt"
    # Hangs (silent) on the first attempt, succeeds on the second.
    flaky = ("import pathlib, sys, time; m = pathlib.Path(sys.argv[1]); done = m.exists(); m.touch(); "
             "print('attempt', flush=True); sys.exit(0) if done else time.sleep(600)")
    # Writes every 0.2 s for 10 s: longer than heartbeat_s in all, never that long without progress.
    # heartbeat_s is 8 s: a Python start on a loaded machine took over 2 s before its first line.
    busy = "import time\nfor i in range(50):\n    print(i, flush=True)\n    time.sleep(0.2)"
    jobs = [Job("hang", [sys.executable, "-c", HANG], tmp_path / "hang.log"),
            Job("flaky", [sys.executable, "-c", flaky, str(marker)], tmp_path / "flaky.log"),
            Job("busy", [sys.executable, "-c", busy], tmp_path / "busy.log")]
    hang, flaky_out, busy_out = RUNNERS["local"](jobs, RunnerCfg(heartbeat_s=8, poll_s=0.1), max_workers=3, retry=1)
    assert hang.returncode == EXIT_STALLED and hang.attempts == 2
    assert hang.error == "no progress for 8 s (runner.heartbeat_s): killed"
    assert (tmp_path / "hang.log").read_text().count("=== no progress for 8 s") == 2
    assert flaky_out.ok and flaky_out.attempts == 2
    assert busy_out.ok and busy_out.attempts == 1


def test_a_jobs_own_environment_reaches_its_worker(tmp_path):
    # How the run's settings reach workers (the --max-cost limit): lost once, and a cost limit was ignored.
    job = Job("env", [sys.executable, "-c", "import os, sys; sys.exit(os.environ.get('COMPASS_PROBE') != 'yes')"],
              tmp_path / "env.log", env={"COMPASS_PROBE": "yes"})
    (out,) = RUNNERS["local"]([job], RunnerCfg(poll_s=0.1), max_workers=1, retry=0)
    assert out.ok


def test_the_loop_wakes_when_a_worker_exits_not_at_the_next_poll(tmp_path):
    """Every stage of a run waited up to ``poll_s`` (0.2 s) after its worker had exited. With a
    minute between polls, ``wait`` must still return as soon as the second of two workers exits
    (True: woken, not timed out), and time out (False) while both still run."""
    launcher = LocalLauncher(poll_s=60, pass_fds=())
    jobs = [Job(name, [sys.executable, "-c", HANG], tmp_path / f"{name}.log") for name in ("first", "second")]
    attempts = [Attempt(job, 1, launcher.start(job, 1), None) for job in jobs]
    try:
        launcher.poll_s = 0.05
        assert launcher.wait(attempts) is False  # both running: the timeout ends the wait
        launcher.poll_s = 60
        attempts[1].handle.proc.kill()  # the second one ends
        assert launcher.wait(attempts) is True
        assert launcher.poll(attempts)[1] == -signal.SIGKILL
    finally:
        launcher.cancel_all(attempts)


def test_heartbeats_are_off_by_default(tmp_path):
    # A worker silent for 3 s with heartbeat_s unset is left alone.
    job = Job("quiet", [sys.executable, "-c", "import time; time.sleep(3)"], tmp_path / "quiet.log")
    (out,) = RUNNERS["local"]([job], RunnerCfg(poll_s=0.1), max_workers=1, retry=0)
    assert out.ok and out.attempts == 1


@pytest.mark.slow
def test_sigterm_stops_the_run_and_its_workers(tmp_path, tiny_model, mini_data):
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model), batch_size=1)],
                       [gsm8k_dataset(mini_data["gsm8k"], max_out_len=200)])
    run = subprocess.Popen([sys.executable, "-m", "compass.cli", "run", str(cfg), "-w", str(tmp_path / "out")],
                           cwd=tmp_path, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        while not worker_pids(tmp_path / "out", task="tiny") and run.poll() is None:
            time.sleep(0.05)
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 130 and "interrupted; resume with -r" in stderr, stderr[-2000:]
    assert worker_pids(tmp_path / "out", task="tiny") == []


class _SignalledLauncher(LocalLauncher):
    """The real local launcher; SIGTERM reaches ``compass run`` at a chosen point of its loop."""

    def __init__(self, when: str):
        super().__init__(poll_s=0.05, pass_fds=())
        self.when, self.procs = when, []

    def start(self, job, attempt):
        handle = super().start(job, attempt)
        self.procs.append(handle.proc)
        if self.when in ("start", "cleanup"):  # the job runs, and the loop does not hold its handle yet
            os.kill(os.getpid(), signal.SIGTERM)
        return handle

    def cancel_all(self, attempts):
        if self.when == "cleanup":  # a second Ctrl-C while the runner kills what it started
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)
        super().cancel_all(attempts)

    def poll(self, attempts):
        if self.when == "__del__":
            self.when = "done"
            _KillsOnDelete()  # dropped at once: the interrupt is raised inside __del__, which Python swallows
        return super().poll(attempts)


class _KillsOnDelete:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # the handler runs here, inside __del__


@pytest.mark.parametrize("when", ["start", "__del__", "cleanup"])
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # __del__: the swallowed signal, on purpose
def test_sigterm_at_any_point_of_the_loop_stops_every_worker(tmp_path, when):
    """A signal landing while a job starts (the worker exists, the loop does not hold it yet),
    one whose KeyboardInterrupt something swallowed, or a second one during the cleanup: the run
    still stops and kills every worker (a CI run under load left a worker running after SIGTERM,
    2026-11-27)."""
    launcher = _SignalledLauncher(when)
    # Jobs that end by themselves: an interrupt lost for good would let the run finish normally.
    short = "import time; time.sleep(30)"
    jobs = [Job(f"job{i}", [sys.executable, "-c", short], tmp_path / f"job{i}.log") for i in range(2)]
    with pytest.raises(KeyboardInterrupt):
        drive(jobs, launcher, max_workers=2, retry=0)
    assert launcher.procs and all(proc.poll() == -signal.SIGKILL for proc in launcher.procs)  # killed, not ended
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the runner's handler is gone again


@pytest.mark.parametrize(("runner", "key"), [
    (dict(heartbeat_s=0), "heartbeat_s"), (dict(poll_s=-1), "poll_s"), (dict(cpus_per_task=0), "cpus_per_task"),
    (dict(time="2 hours"), "time"), (dict(gres="gpu:{gpus}"), "gres"), (dict(extra_flags=["--output=x.log"]), "extra_flags"),
    (dict(extra_flags=["-Jname"]), "extra_flags"), (dict(address="http://head:8265"), "address"),
    (dict(partition="gpu; rm -rf"), "partition"), (dict(type="SlurmRuner"), "type"),
])
def test_bad_runner_keys_are_named(tmp_path, runner, key):
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path="x")], [gsm8k_dataset(tmp_path)],
                       infer=dict(runner=runner))
    with pytest.raises(CompassError) as info:
        load_config(cfg)
    assert f"infer.runner.{key}:" in str(info.value) and "\n" not in str(info.value)


def test_runner_names_and_slurm_flags(tmp_path):
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path="x")], [gsm8k_dataset(tmp_path)],
                       infer=dict(runner=dict(type="SlurmRunner", partition="gpu", gres="gpu:a100:{num_gpus}",
                                              time="1-00:00:00", qos="high", account="lab", cpus_per_task=4,
                                              extra_flags=["--exclusive", "--mem=32G"])))
    runner = load_config(cfg).runner
    assert runner.type == "slurm"
    cpu = sbatch_argv(Job("m-0", ["python", "-m", "x", "a b.json"], Path("/r/logs/m-0.log")), runner, "/r")
    gpu = sbatch_argv(Job("m-1", ["python"], Path("/r/100%/m-1.log"), num_gpus=2), runner, "/r")
    assert cpu[:2] == ["sbatch", "--parsable"] and "--partition=gpu" in cpu and "--time=1-00:00:00" in cpu
    assert {"--qos=high", "--account=lab", "--cpus-per-task=4", "--exclusive", "--mem=32G", "--chdir=/r"} <= set(cpu)
    assert not any(a.startswith("--gres") for a in cpu) and "--gres=gpu:a100:2" in gpu
    assert cpu[-1] == "--wrap=exec python -m x 'a b.json'"
    assert "--output=/r/100%%/m-1.log" in gpu  # % is sbatch's pattern character
    assert load_config(write_config(tmp_path / "r.py", [dict(abbr="m", path="x")], [gsm8k_dataset(tmp_path)],
                                    infer=dict(runner=dict(type="RayRunner", address="auto")))).runner.type == "ray"
