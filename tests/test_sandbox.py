"""Hostile-program battery for compass/evaluators/sandbox (see docs/sandbox.md).

Every attack runs in every mode this host offers (namespaces, bwrap, landlock). Each must be
reported as not passed -- never as "error", which would mean the sandbox did not start -- while
``World.check`` (and per-test checks) show that the harm did not happen. Controls prove that those
checks can fail. More routes (sub-interpreters, directory listings, ptrace, a non-root caller,
memory in total) are in test_sandbox_routes.py.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from compass.evaluators.sandbox import SandboxLimits, run_many, run_python

from sandbox_helpers import HANG, MODE, NOT_PASSED, REPO, WORLD, comm_is, pids_where, run, wait_until

world, mode = WORLD, MODE  # fixtures

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")


@pytest.fixture
def server():
    """A TCP server on every address of this host; ``hits`` records what each connection sent."""
    srv = socket.create_server(("0.0.0.0", 0))
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
                with contextlib.suppress(OSError):
                    hits.append(conn.recv(100))

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], hits
    stop.set()
    t.join()
    srv.close()


# --------------------------------------------------------------------------- positive tests
def test_correct_program_passes_and_output_is_captured(mode):
    r = run_python("import sys\nprint('hello', 6 * 7)\nprint('warn', file=sys.stderr)", isolation=mode)
    assert (r.status, r.returncode, r.stdout, r.stderr) == ("passed", 0, "hello 42\n", "warn\n"), r
    assert r.isolation["boundary"] is True


def test_standard_library_is_importable(mode):
    """Modules the worker did not load beforehand (pure Python, packages, extension modules)."""
    r = run_python("import csv, sqlite3, xml.dom.minidom, email.mime.text, encodings.idna, zoneinfo\n"
                   "print(sqlite3.connect(':memory:').execute('select 6 * 7').fetchone()[0])", isolation=mode)
    assert (r.status, r.stdout) == ("passed", "42\n"), r


def test_humaneval_style_failure_is_failed(mode):
    r = run_python("def add(a, b):\n    return a - b\n\nassert add(2, 2) == 4\n", isolation=mode)
    assert r.status == "failed" and r.returncode == 1 and "AssertionError" in r.stderr


def test_exit_zero_is_a_passing_program():
    """A whole program's result is its exit status, by design: code evaluation does not use it
    (the tester's verdict does, tests/test_code_verdicts.py)."""
    assert run_python("import os\nos._exit(0)\nassert False\n").status == "passed"


def test_run_many_runs_in_parallel_and_keeps_order():
    """Four programs that each wait until the test has seen all four running at once."""
    name = f"par{os.getpid() % 100000}"
    code = ("import ctypes, signal, sys, time\n"
            f"ctypes.CDLL(None).prctl(15, b'{name}', 0, 0, 0)\n"  # PR_SET_NAME: visible in /proc/<pid>/comm
            "signal.signal(signal.SIGUSR1, lambda *_: sys.exit(0))\n"
            "time.sleep(60)\n"
            "sys.exit(3)\n")
    results: list = []
    runner = threading.Thread(target=lambda: results.extend(
        run_many([code + f"# {i}\nprint({i})" for i in range(4)], SandboxLimits(timeout_s=90, cpu_s=5), workers=4)))
    runner.start()
    seen = wait_until(lambda: len(pids_where(comm_is(name))) == 4, timeout=60)
    for pid in pids_where(comm_is(name)):
        os.kill(pid, 10)
    runner.join()
    assert seen, "the four programs never ran at the same time"
    assert [r.status for r in results] == ["passed"] * 4, results


def test_hostile_neighbours_do_not_hurt_a_parallel_run(world, mode):
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    killer = "import os, time\nos.kill(-1, 9)\ntime.sleep(0.5)"
    ok = "import time\ntime.sleep(0.5)\nprint('ok')"
    results = run_many([ok, bomb, killer, ok], SandboxLimits(timeout_s=5, cpu_s=1, max_procs=32), workers=4,
                       isolation=mode)
    assert [r.status for r in results][0::3] == ["passed", "passed"], results
    assert results[1].status in NOT_PASSED


# --------------------------------------------------------------------------- hostile battery
def test_write_outside(world, mode):
    # The first two are open to anyone by their permissions; the rest are unique names elsewhere.
    targets = [world.open_dir / "pwn", world.sentinel, REPO / f"pwn_{world.tag}", Path.home() / f"pwn_{world.tag}",
               Path("/dev/shm") / f"pwn_{world.tag}"]
    r = run(f"""
        import os
        ok = 0
        for p in {[str(t) for t in targets]!r}:
            try:
                with open(p, "a") as f:
                    f.write("pwned")
                ok += 1
            except OSError as e:
                print("blocked", p, e)
        raise SystemExit(0 if ok else 1)
        """, mode)
    leaked = [t for t in targets[2:] if t.exists()]
    for t in leaked:
        t.unlink()
    world.check(r)
    assert all(f"blocked {t} " in r.stdout for t in targets[:2]) and not leaked, r.stdout


def test_read_project_and_sentinel(world, mode):
    r = run(f"""
        import os
        found = []
        for p in ({str(world.sentinel)!r}, {str(REPO / "pyproject.toml")!r}):
            for variant in (p, "/proc/1/root" + p, "/proc/self/root" + p, "../" * 12 + p.lstrip("/")):
                try:
                    found.append(open(variant).read())
                except OSError as e:
                    print("blocked", variant, e)
            try:
                os.symlink(p, "link")
                found.append(open("link").read())
            except OSError as e:
                print("blocked symlink", e)
            finally:
                if os.path.lexists("link"):
                    os.unlink("link")
        print(found)
        raise SystemExit(0 if found else 1)
        """, mode)
    world.check(r)


def test_environment_secrets(world, mode):
    control = subprocess.run([sys.executable, "-c", "import os; print(os.environ['OPENAI_API_KEY'])"],
                             capture_output=True, text=True)
    assert world.secret in control.stdout  # an ordinary child would see it
    r = run(f"""
        import glob, os
        dump = [repr(dict(os.environ))]
        for p in glob.glob("/proc/*/environ") + ["/proc/{os.getpid()}/environ", "/proc/{os.getppid()}/environ"]:
            try:
                dump.append(open(p, "rb").read().decode(errors="replace"))
            except OSError as e:
                print("blocked", p, e)
        text = "\\n".join(dump)
        print(text)
        raise SystemExit(0 if "sk-secret" in text else 1)
        """, mode)
    world.check(r)
    assert "OPENAI_API_KEY" not in r.stdout


def test_network_this_host_unreachable(world, mode, server):
    port, hits = server
    addresses = ["127.0.0.1"] + [a for a in _host_addresses() if a != "127.0.0.1"]
    for i, addr in enumerate(addresses):  # control: reachable for an ordinary process
        subprocess.run([sys.executable, "-c", f"import socket; socket.create_connection(('{addr}', {port}))"
                        f".sendall(b'control{i}')"], check=True, timeout=30)
        assert wait_until(lambda i=i: f"control{i}".encode() in hits)
    unix = world.exposed / "unix.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(unix))
    unix.chmod(0o777)
    listener.listen()
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(f"\0compass-test-{world.tag}")
    abstract.listen()
    r = run(f"""
        import socket
        wins = []
        for addr in {addresses!r}:
            try:
                socket.create_connection((addr, {port}), timeout=1).sendall(b"sandbox")
                wins.append(addr)
            except OSError as e:
                print("blocked", addr, e)
        for name in ({str(unix)!r}, "\\0compass-test-{world.tag}"):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(name)
                wins.append(name)
            except OSError as e:
                print("blocked unix", e)
        print("WINS", wins)
        raise SystemExit(0 if wins else 1)
        """, mode)
    listener.settimeout(0.5)
    abstract.settimeout(0.5)
    for sock in (listener, abstract):
        with pytest.raises(TimeoutError):
            sock.accept()
        sock.close()
    world.check(r)
    time.sleep(0.2)
    assert b"sandbox" not in hits and "WINS []" in r.stdout


def _host_addresses() -> list[str]:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return [a for a in out if ":" not in a]


def test_network_external_unreachable(world, mode):
    """Addresses this host can reach (the control, per address) must be unreachable inside."""
    reachable = []
    for addr in (("1.1.1.1", 53), ("8.8.8.8", 443), ("pypi.org", 443)):
        try:
            socket.create_connection(addr, timeout=3).close()
            reachable.append(addr)
        except OSError:
            pass
    if not reachable:
        pytest.skip("this host reaches no external address: nothing to compare with")
    r = run(f"""
        import socket
        ok = []
        for addr in {reachable!r}:
            try:
                socket.create_connection(tuple(addr), timeout=1).close()
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
    assert r.stdout.count("blocked") == len(reachable) + 1, r


def test_fork_bomb(world, mode):
    r = run("""
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """, mode, HANG)
    world.check(r)


def test_memory_bomb(world, mode):
    r = run("""
        hog = []
        while True:
            hog.append(bytearray(64 << 20))
        """, mode)
    world.check(r)
    assert "MemoryError" in r.stderr or r.status == "killed"


def test_infinite_loop_hits_the_cpu_limit(world, mode):
    r = run("while True:\n    pass\n", mode, SandboxLimits(timeout_s=60, cpu_s=1))
    world.check(r, expect=("killed",))
    assert "cpu limit" in r.reason, r


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
        """, mode, HANG)
    world.check(r, expect=("killed", "timeout"))


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
