"""Resource limits of the sandbox, in every mode: output, files, disk, memory and processes in
total, time. The attacks and the checks are those of test_sandbox.py (World)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from compass.evaluators.sandbox import SandboxLimits, run_python

from sandbox_helpers import FAST, HANG, MODE, WORLD, comm_is, pids_where, run

world, mode = WORLD, MODE  # fixtures

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")


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
    r = run("""
        with open("big.bin", "wb") as f:
            for _ in range(256):
                f.write(b"\\0" * (1 << 20))
        """, mode)
    world.check(r)
    assert "File too large" in r.stderr or r.reason.endswith("(file size limit) (program)"), r


@pytest.mark.parametrize("cgroup", [True, False])
def test_disk_fill_with_many_files(world, mode, cgroup):
    """Many files under the per-file limit: the scratch's size (namespace modes), the memory
    cgroup (landlock: the scratch is a RAM disk) or, without a cgroup, no new files at all."""
    r = run("""
        import sys
        for i in range(100_000):
            with open(f"f{i}", "wb") as f:
                f.write(b"x" * (3 << 20))
            sys.stdout.write("+")  # one per 3 MB written
            sys.stdout.flush()
        """, mode, SandboxLimits(timeout_s=30, cpu_s=20, memory_mb=256, max_file_mb=4, max_disk_mb=64),
        use_cgroup=cgroup)
    world.check(r)
    written = 3 * r.stdout.count("+")
    assert written <= 256, r  # never more than the memory limit
    if mode != "landlock" or not cgroup:  # a 64 MB scratch, or no new files
        assert written <= 64 and ("No space left" in r.stderr or "Operation not permitted" in r.stderr), r


def test_deep_recursion(world, mode):
    r = run("""
        import sys
        sys.setrecursionlimit(10 ** 8)
        def f(n):
            return f(n + 1) + 1
        f(0)
        """, mode)
    world.check(r)


def test_thread_bomb(world, mode):
    r = run("""
        import threading, time
        while True:
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        """, mode, HANG)
    world.check(r)


def test_close_stdout_and_hang(world, mode):
    r = run("""
        import os, time
        os.close(1)
        os.close(2)
        time.sleep(60)
        """, mode, HANG)
    world.check(r, expect=("timeout",))
    assert r.reason.startswith("wall-clock limit"), r  # the supervisor's own clock, not the backstop


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
        """, mode, HANG)
    world.check(r, expect=("timeout",))
    assert "blocked" in r.stdout and r.reason.startswith("wall-clock limit"), r


INTERPRETER_MB = 32
MANY_CHILDREN = """
import ctypes, os, sys, time
ctypes.CDLL(None).prctl(15, sys.argv[1].encode() if len(sys.argv) > 1 else b"TAG", 0, 0, 0)  # comm name
print("started", flush=True)
for i in range(16):
    if os.fork() == 0:
        try:
            hog = bytearray(64 << 20)
            for j in range(0, len(hog), 4096):
                hog[j] = 1
            time.sleep(4)
        except MemoryError:
            pass
        os._exit(0)
try:
    while True:
        os.wait()
except ChildProcessError:
    pass
"""


def _pss_kb(pids: list[int]) -> dict[int, int]:
    found = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                found[pid] = next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
        except OSError:
            pass
    return found


def _sample_total_mb(name: str, stop: threading.Event, peaks: list) -> None:
    """Total proportional memory (shared pages split between their sharers, so forked copies are
    not counted twice) of the processes called ``name``, sampled from outside until stopped.

    One pass over the processes is not one instant: under load a child read just before the
    kernel kills it and another read after it took the freed memory add up to more than was ever
    held at once. So each sample is two passes in the same order, and a process counts with the
    smaller of its two readings (0 if gone): each child here holds its memory over one interval,
    and intervals that each span a process's two readings all overlap, so the counted children
    were all holding that much at one instant."""
    while not stop.is_set():
        pids = sorted(pids_where(comm_is(name)))
        first, second = _pss_kb(pids), _pss_kb(pids)
        peaks.append(sum(min(kb, second.get(pid, 0)) for pid, kb in first.items()) >> 10)
        time.sleep(0.01)


def _sampled(name: str, action) -> int:
    peaks: list[int] = []
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_total_mb, args=(name, stop, peaks))
    sampler.start()
    try:
        action()
    finally:
        stop.set()
        sampler.join()
    return max(peaks)


def test_memory_in_total_with_many_children(world, mode, tmp_path):
    """16 children of 64 MB each against a 256 MB total: their memory together, sampled from
    outside, stays under the total. The control runs the same program unconfined and sees the
    sum go far over it (so the sampling can see a breach)."""
    name = f"mem{os.getpid() % 100000}"
    script = tmp_path / "children.py"
    script.write_text(MANY_CHILDREN)
    control = _sampled(name, lambda: subprocess.run([sys.executable, "-I", str(script), name], timeout=120,
                                                    capture_output=True))
    assert control > 600, control  # unconfined, the children together hold ~1 GB
    limits = SandboxLimits(timeout_s=20, cpu_s=10, memory_mb=256, max_procs=64)
    result: list = []
    peak = _sampled(name, lambda: result.append(run_python(MANY_CHILDREN.replace("b\"TAG\"", repr(name.encode())),
                                                           limits, mode)))
    (r,) = result
    world.check(r, expect=("passed", "failed", "killed"))
    # The interpreter's pages, shared copy-on-write with the worker's supervisor, are the
    # supervisor's (charged to it, not to the program): up to that much over the total.
    assert 0 < peak <= limits.memory_mb + INTERPRETER_MB, peak


def test_no_cgroup_budget_is_one_process(world, mode):
    """Without a cgroup nothing bounds several processes in total: the program may start none."""
    r = run(textwrap.dedent("""
        import os, subprocess
        try:
            os.fork()
            print("FORKED")
        except OSError as e:
            print("blocked fork", e)
        try:
            subprocess.run(["true"])
            print("SPAWNED")
        except OSError as e:
            print("blocked spawn", e)
        raise SystemExit(1)
        """), mode, use_cgroup=False)
    world.check(r, expect=("failed",))
    assert "FORKED" not in r.stdout and "SPAWNED" not in r.stdout, r
    assert "no cgroup" in r.isolation["budget"]
