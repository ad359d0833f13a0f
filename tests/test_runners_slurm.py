"""The Slurm runner on a real one-node cluster: munged, slurmctld and slurmd from Debian's packages,
started by this module (state, spool, logs and the munge socket in its own temp directories), on
127.0.0.1 and ports of its own. Skipped only where those daemons cannot run here."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from compass.config import RunnerCfg
from compass.runners import RUNNERS, Job
from compass.runners.heartbeat import EXIT_STALLED

from helpers import compass
from scaleout import KillOnce, check_survived_kill, free_port, two_by_three, worker_pids

pytestmark = pytest.mark.slow

SLURM_CONF = """\
ClusterName=compasstest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _cannot_start() -> str | None:
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch") if shutil.which(b) is None]
    if missing:
        return f"{', '.join(missing)} not installed (Debian packages slurm-wlm and munge)"
    if os.geteuid() != 0:
        return "starting munged (as user munge) and slurmd needs root"
    if not Path("/etc/munge/munge.key").is_file():
        return "no /etc/munge/munge.key (the munge package creates it)"
    return None


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A one-node Slurm cluster for this module; SLURM_CONF points every client (and compass) at it."""
    reason = _cannot_start()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("slurm")
    for d in ("state", "spool"):
        (root / d).mkdir()
    # munged checks its socket's directory is reachable by everyone: a /tmp folder of its own, not under
    # pytest's private one.
    munge_dir = Path(tempfile.mkdtemp(prefix="compass-munge-"))
    munge_dir.chmod(0o711)
    shutil.chown(munge_dir, "munge", "munge")
    socket_path = munge_dir / "munge.sock"
    subprocess.run(["runuser", "-u", "munge", "--", "munged", f"--socket={socket_path}",
                    f"--pid-file={munge_dir}/munged.pid", f"--log-file={munge_dir}/munged.log",
                    f"--seed-file={munge_dir}/seed", "--key-file=/etc/munge/munge.key"], check=True)
    host = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=host, ctld_port=free_port(), d_port=free_port(), munge_socket=socket_path,
                                      root=root, cpus=os.cpu_count() or 2))
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    try:
        subprocess.run(["slurmctld", "-i"], check=True)
        subprocess.run(["slurmd", "-N", host], check=True)
        for _ in range(300):
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.1)
        else:
            logs = "\n".join(p.read_text()[-2000:] for p in (root / "slurmctld.log", root / "slurmd.log") if p.exists())
            raise AssertionError(f"the Slurm node never became idle (sinfo: {state!r}):\n{logs}")
        yield root
    finally:
        for pid_file in (root / "slurmd.pid", root / "slurmctld.pid", munge_dir / "munged.pid"):
            pid = _pid(pid_file)
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        time.sleep(0.5)
        shutil.rmtree(munge_dir, ignore_errors=True)


def _queue() -> list[str]:
    return subprocess.run(["squeue", "-h", "-o", "%i %T %j"], capture_output=True, text=True, check=True).stdout.split("\n")[:-1]


def test_two_models_by_three_datasets_survive_a_killed_worker(slurm_cluster, tmp_path, tiny_model):
    cfg = two_by_three(tmp_path, tiny_model, dict(type="SlurmRunner", poll_s=0.3, time="30:00"))
    killer = KillOnce(tmp_path / "outputs")
    killer.start()
    proc = compass("run", str(cfg), "-w", str(tmp_path / "outputs"), cwd=tmp_path, timeout=600)
    killer.join(timeout=1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = check_survived_kill(tmp_path / "outputs", killer)
    log = (run / "logs" / "infer" / "tiny-a.log").read_text()
    assert log.count("=== slurm job ") == 2 and "\nslurm: job " in log and "ended FAILED (exit code 0, signal 9)" in log
    assert _queue() == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_no_job_in_squeue(slurm_cluster, tmp_path, tiny_model, sig):
    cfg = two_by_three(tmp_path, tiny_model, dict(type="SlurmRunner", poll_s=0.3))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.Popen([sys.executable, "-m", "compass.cli", "run", str(cfg), "-w", str(tmp_path / "out")],
                           cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(6000):  # until both jobs are queued and one worker is running
            queued = _queue()
            if len(queued) == 2 and worker_pids(tmp_path / "out"):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"no job ever ran: {_queue()}")
        run.send_signal(sig)
        _, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr
    assert _queue() == []
    assert worker_pids(tmp_path / "out") == []
    for job_id in (line.split()[0] for line in queued):  # cancelled, not left to finish
        assert "JobState=CANCELLED" in subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True,
                                                      text=True).stdout


def test_sbatch_flags_come_from_the_config(slurm_cluster, tmp_path):
    """partition, time and extra flags reach sbatch: a job asking for the wrong partition is refused by
    Slurm itself and fails with sbatch's own words, retried; one asking for the right one runs."""
    hang = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(600)"]
    jobs = [Job("named", [sys.executable, "-c", "import os; print(os.environ['SLURM_JOB_PARTITION'], "
                                                "os.environ['SLURM_CPUS_PER_TASK'], os.environ['COMPASS_PROBE'])"],
                tmp_path / "named.log", env={"COMPASS_PROBE": "job-own-env"}),  # e.g. the run's --max-cost
            Job("hang", hang, tmp_path / "hang.log")]
    # heartbeat_s 8: a Python start on a loaded machine took over 2 s before its first line.
    cfg = RunnerCfg(type="slurm", partition="debug", time="5", cpus_per_task=1, poll_s=0.2, heartbeat_s=8,
                    extra_flags=["--comment=compass-test"])
    named, hung = RUNNERS["slurm"](jobs, cfg, max_workers=2, retry=1)
    assert named.ok, (tmp_path / "named.log").read_text()
    assert "debug 1 job-own-env" in (tmp_path / "named.log").read_text()
    # The worker that never progresses is cancelled after heartbeat_s, tried again, and reported.
    assert hung.returncode == EXIT_STALLED and hung.attempts == 2 and "no progress for 8 s" in hung.error
    assert (tmp_path / "hang.log").read_text().count("=== slurm job ") == 2
    (bad,) = RUNNERS["slurm"]([Job("bad", ["true"], tmp_path / "bad.log")],
                              RunnerCfg(type="slurm", partition="nosuchpartition", poll_s=0.2), max_workers=1, retry=1)
    assert not bad.ok and bad.attempts == 2 and bad.error.startswith("sbatch: ") and "partition" in bad.error
    assert _queue() == []
