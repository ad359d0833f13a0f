"""Hostile-program battery for compass/evaluators/sandbox.py (see docs/sandbox.md).

Every attack runs under the best isolation available ("auto": namespaces here) and under the
audit-hook "fallback".  Each must be reported as not passed -- and never as "error", which would
mean the sandbox did not even start -- while the checks in ``World.check`` (and per-test ones)
show that the harm did not happen.  Controls prove that those checks can fail.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from compass.evaluators import sandbox
from compass.evaluators.sandbox import SandboxLimits, isolation_report, run_many, run_python

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")

REPO = Path(__file__).resolve().parent.parent
TMP = Path(tempfile.gettempdir())
FAST = SandboxLimits(timeout_s=1.5, cpu_s=1, memory_mb=256, max_procs=32, max_file_mb=4,
                     max_output_bytes=64 * 1024, max_disk_mb=16)
NOT_PASSED = ("failed", "killed", "timeout")  # "error" (sandbox broken) is never acceptable
NOBODY = 65534


def wait_until(pred, timeout: float = 2.0) -> bool:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
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


def sandbox_dirs() -> set[Path]:
    return set(TMP.glob("compass-sandbox-*"))


class World:
    """Things the sandbox must protect, plus the checks that they were protected."""

    def __init__(self, monkeypatch):
        self.secret = "sk-secret-" + secrets.token_hex(16)
        monkeypatch.setenv("OPENAI_API_KEY", self.secret)
        self.sentinel = REPO / f".sandbox_sentinel_{secrets.token_hex(4)}"
        self.content = f"SENTINEL-{secrets.token_hex(12)}"
        self.sentinel.write_text(self.content)
        self.sentinel.chmod(0o644)  # world-readable: only the sandbox may hide it
        self.tag = secrets.token_hex(6)
        # Must survive kill(-1): one of ours, one of a shared unprivileged uid (nobody).
        self.canaries = [subprocess.Popen(["sleep", "120"])]
        if os.geteuid() == 0:
            self.canaries.append(subprocess.Popen(["sleep", "120"], user=NOBODY, group=NOBODY,
                                                  extra_groups=[]))
        self.dirs_before = sandbox_dirs()

    def close(self):
        for p in self.canaries:
            p.kill()
            p.wait()
        self.sentinel.unlink()

    def check(self, r: sandbox.SandboxResult, expect=NOT_PASSED) -> None:
        assert r.status in expect, r
        assert "started" in r.stdout, r  # the hostile code really ran
        out = r.stdout + r.stderr
        assert self.secret not in out and self.content not in out
        assert self.sentinel.read_text() == self.content
        assert all(p.poll() is None for p in self.canaries), "a process outside was killed"
        uid = r.isolation.get("uid")
        if uid is not None and uid != os.getuid():  # the run's own uid: nothing may survive it
            assert wait_until(lambda: not pids_where(lambda p: uid_of(p) == uid)), uid
        assert sandbox_dirs() <= self.dirs_before, "temp dir left behind"


@pytest.fixture
def world(monkeypatch):
    w = World(monkeypatch)
    yield w
    w.close()


@pytest.fixture(params=["auto", "fallback"])
def mode(request) -> str:
    return request.param


@pytest.fixture
def server():
    """A loopback TCP server; ``hits`` records what each connection sent."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.1)
    hits: list[bytes] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                hits.append(conn.recv(100))

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], hits
    stop.set()
    t.join()
    srv.close()


def run(code: str, mode: str, limits: SandboxLimits = FAST) -> sandbox.SandboxResult:
    return run_python("print('started', flush=True)\n" + textwrap.dedent(code), limits, mode)


# --------------------------------------------------------------------------- positive tests
def test_correct_program_passes_and_output_is_captured(mode):
    r = run_python("import sys\nprint('hello', 6 * 7)\nprint('warn', file=sys.stderr)",
                   isolation=mode)
    assert (r.status, r.returncode, r.stdout, r.stderr) == ("passed", 0, "hello 42\n", "warn\n")
    assert r.passed and r.isolation["mode"] and r.duration_s < 5


def test_humaneval_style_failure_is_failed(mode):
    code = "def add(a, b):\n    return a - b\n\nassert add(2, 2) == 4\n"
    r = run_python(code, isolation=mode)
    assert r.status == "failed" and r.returncode == 1 and "AssertionError" in r.stderr


def test_run_many_preserves_order_and_runs_in_parallel():
    progs = [f"import time\ntime.sleep(1)\nprint({i})" for i in range(4)]
    start = time.monotonic()
    results = run_many(progs, SandboxLimits(timeout_s=10), workers=4)
    elapsed = time.monotonic() - start
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(4)]
    assert all(r.passed for r in results)
    assert elapsed < 3.0, elapsed  # serial would take >= 4 s


def test_isolation_report_names_the_active_protections():
    rep = isolation_report()
    assert rep["probe_status"] == "passed", rep
    assert rep["mode"] in ("namespaces", "userns", "fallback")
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    if subprocess.run(["unshare", *user, "--net", "--mount", "--pid", "--fork", "true"],
                      capture_output=True).returncode == 0:  # namespaces work here: must be used
        assert rep["mode"] == ("namespaces" if os.geteuid() == 0 else "userns"), rep
        assert rep["pid_namespace"] and rep["network"].startswith("netns")
    if os.geteuid() == 0:
        assert rep["uid"] not in (0, NOBODY)  # a throw-away uid, not root and not a shared one


def test_exit_zero_before_the_checks_counts_as_passed():
    """Known limit, by design: the verdict is the exit status; evaluators must not trust a
    bare exit 0 (docs/sandbox.md suggests a per-run random completion token)."""
    r = run_python("import os\nos._exit(0)\nassert False\n")
    assert r.status == "passed"


# --------------------------------------------------------------------------- hostile battery
def test_write_outside_workdir(world, mode):
    targets = [TMP / f"compass_pwn_{world.tag}", REPO / f"pwn_{world.tag}",
               Path.home() / f"pwn_{world.tag}", Path("/dev/shm") / f"pwn_{world.tag}"]
    r = run(f"""
        import os
        ok = 0
        for p in {[str(t) for t in targets]!r}:
            try:
                with open(p, "w") as f:
                    f.write("pwned")
                ok += 1
            except OSError as e:
                print("blocked", p, e)
        raise SystemExit(0 if ok == {len(targets)} else 1)
        """, mode)
    world.check(r)
    assert "blocked" in r.stdout
    leaked = [t for t in targets if t.exists()]
    for t in leaked:
        t.unlink()
    assert not leaked


def test_read_project_files(world, mode):
    r = run(f"""
        import os
        path, found = {str(world.sentinel)!r}, []
        for p in (path, "/proc/1/root" + path, "/proc/self/root" + path,
                  os.path.join(os.getcwd(), "../" * 12 + path.lstrip("/"))):
            try:
                found.append(open(p).read())
            except OSError as e:
                print("blocked", p, e)
        try:
            os.symlink(path, "link")
            found.append(open("link").read())
        except OSError as e:
            print("blocked symlink", e)
        try:
            print(os.listdir({str(REPO)!r}))
        except OSError as e:
            print("blocked listdir", e)
        raise SystemExit(0 if found else 1)
        """, mode)
    world.check(r)


def test_read_environment_secrets(world, mode):
    show = "import os; print(os.environ['OPENAI_API_KEY'])"
    control = subprocess.run([sys.executable, "-c", show], capture_output=True, text=True)
    assert world.secret in control.stdout  # an ordinary child would see it
    r = run("""
        import glob, os
        dump = [repr(dict(os.environ))]
        for p in glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline"):
            try:
                dump.append(open(p, "rb").read().decode(errors="replace"))
            except OSError:
                pass
        text = "\\n".join(dump)
        print(text)
        raise SystemExit(0 if "sk-secret" in text else 1)
        """, mode)
    world.check(r)
    assert "OPENAI_API_KEY" not in r.stdout


def test_network_loopback_server_unreachable(world, mode, server):
    port, hits = server
    control = f"import socket; socket.create_connection(('127.0.0.1', {port})).sendall(b'control')"
    subprocess.run([sys.executable, "-c", control], check=True, timeout=10)
    assert wait_until(lambda: b"control" in hits)  # reachable for an ordinary process
    r = run(f"""
        import socket
        s = socket.create_connection(("127.0.0.1", {port}), timeout=1)
        s.sendall(b"sandbox")
        print("CONNECTED")
        """, mode)
    world.check(r)
    time.sleep(0.2)
    assert b"sandbox" not in hits and "CONNECTED" not in r.stdout


def test_network_external_unreachable(world, mode):
    r = run("""
        import socket
        ok = []
        for addr in (("1.1.1.1", 53), ("8.8.8.8", 443), ("pypi.org", 443)):
            try:
                socket.create_connection(addr, timeout=0.5).close()
                ok.append(addr)
            except OSError as e:
                print("blocked", addr, e)
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53))
            ok.append("udp")
        except OSError as e:
            print("blocked udp", e)
        raise SystemExit(0 if ok else 1)
        """, mode)
    world.check(r)
    assert sum(line.startswith("blocked") for line in r.stdout.splitlines()) == 4, r


def test_fork_bomb(world, mode):
    r = run("""
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """, mode)
    world.check(r)
    assert r.duration_s < FAST.timeout_s + 4


def test_memory_bomb(world, mode):
    r = run("""
        hog = []
        while True:
            hog.append(bytearray(64 << 20))
        """, mode)
    world.check(r)
    assert "MemoryError" in r.stderr or r.status == "killed"


def test_infinite_loop_hits_the_cpu_limit(world, mode):
    r = run("while True:\n    pass\n", mode, SandboxLimits(timeout_s=8, cpu_s=1))
    world.check(r, expect=("killed",))
    assert "cpu limit" in r.reason and r.duration_s < 8, r


def test_cpu_burn_with_all_signals_ignored(world, mode):
    r = run("""
        import signal
        for s in signal.Signals:
            try:
                signal.signal(s, signal.SIG_IGN)
            except (OSError, ValueError, RuntimeError):
                pass
        while True:
            pass
        """, mode)
    world.check(r, expect=("killed", "timeout"))
    assert r.duration_s < FAST.timeout_s + 4


def test_kill_parent_and_test_runner(world, mode):
    r = run(f"""
        import os, signal
        for pid in (os.getppid(), {os.getpid()}, 1):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError as e:
                print("blocked", pid, e)
        raise SystemExit(1)  # whatever happened, this is not a pass
        """, mode)
    world.check(r, expect=("failed",))  # the supervisor survived to report the exit code
    assert os.getppid() > 1


def test_kill_every_process(world, mode):
    r = run("""
        import os, signal, time
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError as e:
            print("blocked", e)
        time.sleep(0.2)
        raise SystemExit(1)
        """, mode)
    world.check(r, expect=("failed",))


def test_huge_output(world, mode):
    r = run("""
        import sys
        while True:
            sys.stdout.write("A" * 65536)
            sys.stderr.write("B" * 65536)
        """, mode)
    world.check(r, expect=("killed",))
    assert "output exceeded" in r.reason
    assert len(r.stdout) <= FAST.max_output_bytes and len(r.stderr) <= FAST.max_output_bytes


def test_huge_file(world, mode):
    free = shutil.disk_usage(TMP).free
    r = run("""
        with open("big.bin", "wb") as f:
            for _ in range(256):
                f.write(b"\\0" * (1 << 20))
        """, mode)
    world.check(r)
    assert "File too large" in r.stderr or r.reason.endswith("(file size limit)"), r
    assert shutil.disk_usage(TMP).free > free - (64 << 20)


def test_disk_fill_with_many_files(world):
    """Namespace modes give /tmp a size cap; the fallback only has the per-file limit."""
    if isolation_report()["mode"] == "fallback":
        pytest.skip("no disk quota without namespaces (documented)")
    free = shutil.disk_usage(TMP).free
    r = run("""
        for i in range(100_000):
            with open(f"f{i}", "wb") as f:
                f.write(b"x" * (3 << 20))
        """, "auto")
    world.check(r)
    assert "No space left" in r.stderr
    assert shutil.disk_usage(TMP).free > free - (64 << 20)


def test_deep_recursion(world, mode):
    r = run("""
        import sys
        sys.setrecursionlimit(10 ** 8)
        def f(n):
            return f(n + 1) + 1
        f(0)
        """, mode)
    world.check(r)


def test_daemon_does_not_outlive_the_run(world, mode):
    marker = f"compass-daemon-{world.tag}"
    probe = subprocess.Popen([marker, "30"], executable="/bin/sleep")  # the scanner works
    assert wait_until(lambda: pids_where(cmdline_has(marker)))
    probe.kill()
    probe.wait()
    r = run(f"""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv("/bin/sleep", [{marker!r}, "30"])
            os._exit(0)
        time.sleep(0.3)
        """, mode)  # exits 0 itself: the stray process alone must fail it
    world.check(r)
    assert wait_until(lambda: not pids_where(cmdline_has(marker))), "daemon survived"


def test_shell_subprocess(world, mode):
    evil = [REPO / f"pwn_sh_{world.tag}", TMP / f"pwn_sh_{world.tag}"]
    r = run(f"""
        import subprocess
        cmd = "cat {world.sentinel}; cat /etc/shadow; env; echo x > {evil[0]}; echo x > {evil[1]}"
        out = subprocess.run(cmd, shell=True, capture_output=True, text=True)
        print(out.stdout, out.stderr)
        raise SystemExit(0 if "SENTINEL-" in out.stdout else 1)
        """, mode)
    world.check(r)
    assert not any(p.exists() for p in evil)


def test_read_etc_shadow(world, mode):
    shadow = Path("/etc/shadow")
    if not os.access(shadow, os.R_OK):
        pytest.skip("needs a parent that can read /etc/shadow (root) for the control")
    first = shadow.read_text().splitlines()[0]
    r = run("""
        print(open("/etc/shadow").read())
        """, mode)
    world.check(r)
    assert first not in r.stdout


def test_ctypes_segfault(world, mode):
    r = run("import ctypes\nctypes.string_at(0)\n", mode)
    world.check(r)
    if r.isolation["mode"] != "fallback":  # the fallback refuses to import ctypes at all
        assert r.status == "killed" and "SIGSEGV" in r.reason, r


def test_close_stdout_and_hang(world, mode):
    r = run("""
        import os, time
        os.close(1)
        os.close(2)
        time.sleep(60)
        """, mode)
    world.check(r, expect=("timeout",))
    assert r.duration_s < FAST.timeout_s + 4


def test_sigalrm_and_rlimit_tricks_cannot_extend_the_timeout(world, mode):
    r = run("""
        import resource, signal, time
        for s in (signal.SIGALRM, signal.SIGTERM, signal.SIGXCPU, signal.SIGHUP, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        signal.alarm(0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY,) * 2)
        except (ValueError, OSError) as e:
            print("blocked", e, flush=True)
        time.sleep(60)
        """, mode)
    world.check(r, expect=("timeout",))
    assert "blocked" in r.stdout and r.duration_s < FAST.timeout_s + 4


def test_thread_bomb(world, mode):
    r = run("""
        import threading, time
        while True:
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        """, mode)
    world.check(r)


def test_privilege_escalation(world, mode):
    r = run("""
        import os
        wins = []
        for name, attempt in (("setuid", lambda: os.setuid(0)), ("chroot", lambda: os.chroot("/")),
                              ("setgroups", lambda: os.setgroups([0]))):
            try:
                attempt()
                wins.append(name)
            except OSError as e:
                print("blocked", name, e)
        try:
            import ctypes
            if ctypes.CDLL(None).unshare(0x10000000 | 0x00020000) == 0:  # user + mount ns
                wins.append("unshare")
        except Exception as e:
            print("blocked", e)
        try:
            if os.system("su -c id root </dev/null; sudo -n id") == 0:
                wins.append("su")
        except OSError as e:
            print("blocked", e)
        raise SystemExit(0 if wins else 1)
        """, mode)
    world.check(r, expect=("failed",))
    assert "uid=0" not in r.stdout


def test_hostile_neighbours_do_not_hurt_a_parallel_run(world):
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    killer = "import os, time\nos.kill(-1, 9)\ntime.sleep(0.5)"
    ok = "import time\ntime.sleep(0.5)\nprint('ok')"
    results = run_many([ok, bomb, killer, ok], FAST, workers=4)
    assert [r.status for r in results][0::3] == ["passed", "passed"], results
    assert results[1].status in NOT_PASSED


def test_unprivileged_caller(world, server):
    """Non-root users get a user namespace (or the fallback); run as `nobody` to prove it."""
    py = "/usr/bin/python3"
    if os.geteuid() != 0 or not os.access(py, os.X_OK):
        pytest.skip("needs root (to become nobody) and a system python3 nobody can run")
    port, hits = server
    as_nobody = dict(user=NOBODY, group=NOBODY, extra_groups=[], cwd="/", capture_output=True,
                     text=True, timeout=60,
                     env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": world.secret})
    assert world.content in subprocess.run(["cat", str(world.sentinel)], **as_nobody).stdout
    userns = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "--mount",
                             "--pid", "--fork", "true"], **as_nobody).returncode == 0
    canary = subprocess.Popen(["sleep", "60"], user=NOBODY, group=NOBODY, extra_groups=[])
    start = "print('started', flush=True)\n"
    programs = {name: start + code for name, code in {
        "ok": "",
        "sentinel": f"print(open({str(world.sentinel)!r}).read())",
        "env": "import os\nprint(dict(os.environ))\nassert 'OPENAI_API_KEY' in os.environ",
        "net": f"import socket\nsocket.create_connection(('127.0.0.1', {port})).sendall(b'nobody')",
        "write": f"open({str(REPO / ('pwn_nobody_' + world.tag))!r}, 'w').write('x')",
        "killall": "import os, time\nos.kill(-1, 9)\ntime.sleep(0.3)\nraise SystemExit(1)",
    }.items()}
    script = textwrap.dedent(f"""
        import importlib.util, json, sys
        spec = importlib.util.spec_from_file_location("sbx", {sandbox.__file__!r})
        sbx = sys.modules["sbx"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sbx)
        out = {{}}
        for mode in ("auto", "fallback"):
            for name, code in {programs!r}.items():
                r = sbx.run_python(code, sbx.SandboxLimits(timeout_s=5), mode)
                out[mode + ":" + name] = [r.status, r.stdout + r.stderr, r.isolation.get("mode")]
        print(json.dumps(out))
        """)
    try:
        proc = subprocess.run([py, "-I", "-c", script], **as_nobody)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert canary.poll() is None, "kill(-1) reached a process of the same uid"
    finally:
        canary.kill()
        canary.wait()
    for key, (status, text, iso) in out.items():
        expected = ("passed",) if key.endswith(":ok") else NOT_PASSED
        assert status in expected and "started" in text, (key, status, text)
        assert world.secret not in text and world.content not in text, key
    assert out["auto:ok"][2] == ("userns" if userns else "fallback"), out["auto:ok"]
    assert out["fallback:ok"][2] == "fallback"
    assert b"nobody" not in hits and not (REPO / f"pwn_nobody_{world.tag}").exists()
