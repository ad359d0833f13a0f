"""The Ray runner on a real Ray head started by this module on 127.0.0.1 (every listener on loopback,
its temp dir its own), and on a local instance the runner starts for the run itself."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from compass.config import RunnerCfg
from compass.runners import RUNNERS, Job

from helpers import compass
from scaleout import KillOnce, check_survived_kill, free_port, two_by_three

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="the ray package is not installed (pip install 'compass-eval[ray]')")
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
# Ray 2.60 may start a head with token authentication: the head and compass get the same token by
# environment, so neither depends on what ~/.ray/auth_token holds at the time.
AUTH = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


def _listeners(pid_group: int) -> list[str]:
    """Addresses the head's processes listen on (TCP), from ss."""
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
    pids = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _pgid(int(p.name)) == pid_group}
    return [line.split()[3] for line in out.splitlines() if any(f"pid={pid}," in line for pid in pids)]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


@pytest.fixture(scope="module")
def ray_head():
    """``ray start --head --block`` in a session of its own; its address. Stopped by signalling that
    session only (``ray stop`` would stop every Ray on the machine)."""
    temp_dir = tempfile.mkdtemp(prefix="compass-ray-")  # Ray's socket paths must stay short
    port = free_port()
    head = subprocess.Popen(["ray", "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
                             f"--temp-dir={temp_dir}", "--include-dashboard=false", "--disable-usage-stats",
                             f"--num-cpus={os.cpu_count() or 2}"],
                            env={**os.environ, **LOOPBACK, **AUTH}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    seen = []
    assert head.stdout is not None
    for line in head.stdout:  # the head prints this once every process is up
        seen.append(line)
        if "Ray runtime started" in line:
            break
    else:
        raise AssertionError("ray start exited:\n" + "".join(seen[-30:]))
    try:
        yield f"127.0.0.1:{port}", head.pid
    finally:
        os.killpg(head.pid, signal.SIGINT)  # `ray start --block` ignores SIGTERM; on SIGINT it stops all within a second
        try:
            # Here ~1.3 s; in fresh-clone CI runs (2026-11-28) it sometimes outlasted 30 s: then SIGKILL.
            head.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        subprocess.run(["rm", "-rf", temp_dir])


def test_head_listens_on_loopback_only(ray_head):
    _, group = ray_head
    listeners = _listeners(group)
    assert listeners and all(a.startswith(("127.", "[::ffff:127.", "[::1]")) for a in listeners), listeners


def test_two_models_by_three_datasets_survive_a_killed_worker(ray_head, tmp_path, tiny_model):
    address, _ = ray_head
    cfg = two_by_three(tmp_path, tiny_model, dict(type="RayRunner", address=address))
    killer = KillOnce(tmp_path / "outputs")
    killer.start()
    proc = compass("run", str(cfg), "-w", str(tmp_path / "outputs"), cwd=tmp_path, timeout=600, env=AUTH)
    killer.join(timeout=1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = check_survived_kill(tmp_path / "outputs", killer)
    log = (run / "logs" / "infer" / "tiny-a.log").read_text()
    assert log.count("=== ray: started on ") == 2  # the worker's output reached the run's log, both attempts


def test_local_instance_for_the_run_kills_a_stalled_worker_and_retries(tmp_path):
    """address None: the runner starts Ray for the run and stops it after. A worker that stops making
    progress is cancelled after heartbeat_s and retried; one that keeps writing is left alone."""
    marker = tmp_path / "second-attempt"
    # Hangs (silent) on the first attempt, succeeds on the second.
    flaky = ("import pathlib, sys, time; m = pathlib.Path(sys.argv[1]); "
             "done = m.exists(); m.touch(); print('attempt', flush=True); "
             "sys.exit(0) if done else time.sleep(600)")
    # Writes every 0.2 s for 10 s: longer than heartbeat_s in all, never that long without progress.
    # heartbeat_s is 8 s: a Python start on a loaded machine took over 2 s before its first line.
    busy = "import time\nfor i in range(50):\n    print(i, flush=True)\n    time.sleep(0.2)"
    # Kills the Ray worker running it (as a lost node would) on the first attempt, succeeds on the second.
    crash = ("import os, pathlib, signal, sys; m = pathlib.Path(sys.argv[1]); done = m.exists(); m.touch(); "
             "print(os.environ['COMPASS_PROBE'], flush=True); sys.exit(0) if done else os.kill(os.getppid(), signal.SIGKILL)")
    jobs = [Job("flaky", [sys.executable, "-c", flaky, str(marker)], tmp_path / "flaky.log"),
            Job("busy", [sys.executable, "-c", busy], tmp_path / "busy.log"),
            Job("gpu", ["true"], tmp_path / "gpu.log", num_gpus=1),
            Job("crash", [sys.executable, "-c", crash, str(tmp_path / "crashed")], tmp_path / "crash.log",
                env={"COMPASS_PROBE": "job-own-env"})]  # a job's own settings (e.g. the run's --max-cost)
    before = set(Path(tempfile.gettempdir()).glob("compass-ray-*"))
    flaky_out, busy_out, gpu_out, crash_out = RUNNERS["ray"](jobs, RunnerCfg(type="ray", heartbeat_s=8, poll_s=0.2),
                                                             max_workers=2, retry=1)
    assert flaky_out.ok and flaky_out.attempts == 2, (tmp_path / "flaky.log").read_text()
    assert "no progress for 8 s (runner.heartbeat_s): killed" in (tmp_path / "flaky.log").read_text()
    assert busy_out.ok and busy_out.attempts == 1
    assert not gpu_out.ok and gpu_out.error == "needs 1 GPUs, the Ray cluster has 0"
    assert crash_out.ok and crash_out.attempts == 2
    assert "ray: WorkerCrashedError" in (tmp_path / "crash.log").read_text()
    assert "job-own-env" in (tmp_path / "crash.log").read_text()
    assert set(Path(tempfile.gettempdir()).glob("compass-ray-*")) == before  # stopped and cleaned up
    assert not ray.is_initialized()

