"""What the sandbox tests protect and how they check it (tests/test_sandbox*.py).

Everything a hostile program aims at lives in the test's own temp directories (``exposed``: a
world-readable directory with a sentinel file and a world-writable subdirectory, so only the
sandbox, not file permissions, can keep a program out) or is a process the test started.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from compass.evaluators.sandbox import SandboxLimits, SandboxResult, run_python
from compass.evaluators.sandbox.modes import static_refusal

REPO = Path(__file__).resolve().parent.parent
# Programs that end by themselves get a wall clock far beyond their needs (a loaded machine must not
# turn them into timeouts); those that only end when killed get a short one.
FAST = SandboxLimits(timeout_s=20, cpu_s=1, memory_mb=256, max_procs=32, max_file_mb=4,
                     max_output_bytes=64 * 1024, max_disk_mb=16)
HANG = SandboxLimits(timeout_s=1.5, cpu_s=1, memory_mb=256, max_procs=32, max_file_mb=4,
                     max_output_bytes=64 * 1024, max_disk_mb=16)
NOT_PASSED = ("failed", "killed", "timeout")  # "error" (the sandbox did not even start) never counts
NOBODY = 65534
MODES = [m for m in ("namespaces", "bwrap", "landlock") if static_refusal(m) is None]
# A line of a project file: a program that read the project would print it.
PROJECT_LINE = next(line for line in (REPO / "pyproject.toml").read_text().splitlines() if "name" in line)


def wait_until(pred, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def pids_where(pred) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if pred(pid):
                found.append(int(pid))
        except OSError:
            pass
    return found


def uid_of(pid: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Uid:"))


def cmdline_has(marker: str):
    return lambda pid: marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()


def comm_is(name: str):
    return lambda pid: Path(f"/proc/{pid}/comm").read_text().strip() == name


class World:
    """Things the sandbox must protect, and the checks that they were protected."""

    def __init__(self, monkeypatch):
        self.secret = "sk-secret-" + secrets.token_hex(16)
        monkeypatch.setenv("OPENAI_API_KEY", self.secret)
        self.tag = secrets.token_hex(6)
        self.exposed = Path(tempfile.mkdtemp(prefix="compass-sandbox-test-"))
        self.exposed.chmod(0o755)
        self.sentinel = self.exposed / f"sentinel_{self.tag}.txt"
        self.content = f"SENTINEL-{secrets.token_hex(12)}"
        self.sentinel.write_text(self.content)
        self.sentinel.chmod(0o666)  # readable and writable by anyone: only the sandbox may stop it
        self.open_dir = self.exposed / "open"
        self.open_dir.mkdir()
        self.open_dir.chmod(0o777)
        self.canaries = [subprocess.Popen(["sleep", "300"])]  # must survive kill(-1)
        if os.geteuid() == 0:
            self.canaries.append(subprocess.Popen(["sleep", "300"], user=NOBODY, group=NOBODY, extra_groups=[]))

    def close(self):
        for p in self.canaries:
            p.kill()
            p.wait()
        shutil.rmtree(self.exposed, ignore_errors=True)

    def check(self, r: SandboxResult, expect=NOT_PASSED) -> None:
        assert r.status in expect, r
        assert "started" in r.stdout, r  # the hostile code really ran
        out = r.stdout + r.stderr
        assert self.secret not in out and self.content not in out and PROJECT_LINE not in out, out[-2000:]
        assert self.sentinel.read_text() == self.content
        assert sorted(p.name for p in self.open_dir.iterdir()) == [], "a file appeared outside"
        assert all(p.poll() is None for p in self.canaries), "a process outside was killed"
        uid = r.isolation.get("uid")
        if uid is not None and uid != os.getuid():  # the run's own uid: nothing may survive it
            assert wait_until(lambda: not pids_where(lambda p: uid_of(p) == uid)), uid
        scratch = r.isolation.get("scratch")
        assert scratch is None or not os.path.exists(scratch), "scratch directory left behind"


def _world(monkeypatch):
    w = World(monkeypatch)
    yield w
    w.close()


def _mode(request) -> str:
    return request.param


# The tests' fixtures: ``world = WORLD`` and ``mode = MODE`` at the top of a test module.
WORLD = pytest.fixture(name="world")(_world)
MODE = pytest.fixture(name="mode", params=MODES)(_mode)


def run(code: str, mode: str, limits: SandboxLimits = FAST, **kw) -> SandboxResult:
    return run_python("print('started', flush=True)\n" + textwrap.dedent(code), limits, mode, **kw)
