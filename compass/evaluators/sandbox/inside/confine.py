"""Per-process confinement, applied by a freshly forked child before any untrusted code runs:
session, descriptors, limits, identity, capabilities, Landlock, seccomp, environment."""
from __future__ import annotations

import ctypes
import os
import resource
import signal

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_CAP_AMBIENT = 1, 4, 24, 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_PR_SET_SECUREBITS, _SECBIT_NOROOT_AND_LOCK = 28, 0b11
_CAP_VERSION_3 = 0x20080522
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
MB = 1 << 20

libc = ctypes.CDLL(None, use_errno=True)


def prctl(option: int, value: int) -> None:
    if libc.prctl(option, value, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def start_session() -> None:
    """Own session, gone with the supervisor, default signal dispositions (Python's SIGPIPE
    ignore stays, as in any interpreter)."""
    os.setsid()
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGALRM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def arrange_fds(layout: list[int]) -> None:
    """Make ``layout[i]`` descriptor ``i`` and close every other one (the supervisor's socket,
    cgroup directories, other jobs' pipes)."""
    moved = [os.dup(fd) for fd in layout]  # a target slot may hold another layout entry
    for target, fd in enumerate(moved):
        os.dup2(fd, target, inheritable=True)
    os.closerange(len(layout), os.sysconf("SC_OPEN_MAX"))


def set_limits(cpu_s: int, memory_mb: int | None, file_mb: int, open_files: int, procs: int | None) -> None:
    plan = [(resource.RLIMIT_CPU, cpu_s, cpu_s + 1),  # SIGXCPU, then SIGKILL a second later
            (resource.RLIMIT_FSIZE, file_mb * MB, file_mb * MB),
            (resource.RLIMIT_NOFILE, open_files, open_files),
            (resource.RLIMIT_CORE, 0, 0)]
    if memory_mb is not None:
        plan.append((resource.RLIMIT_AS, memory_mb * MB, memory_mb * MB))
    if procs is not None:
        plan.append((resource.RLIMIT_NPROC, procs, procs))
    for res, soft, hard in plan:
        current = resource.getrlimit(res)[1]  # an unprivileged process can only lower a hard limit
        hard = hard if current == resource.RLIM_INFINITY else min(hard, current)
        resource.setrlimit(res, (min(soft, hard), hard))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


def drop_privileges(ids: tuple[int, int] | None) -> None:
    """Become ``ids`` (uid, gid) when the supervisor is root; in every case end with no
    capabilities at all, none in the bounding or ambient sets (a user namespace's supervisor
    keeps its uid, so the uid change alone would not clear them), and uid 0 (where it stays)
    gaining none by exec."""
    libc.prctl(_PR_SET_SECUREBITS, _SECBIT_NOROOT_AND_LOCK, 0, 0, 0)  # needs CAP_SETPCAP: may fail
    for cap in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # EINVAL: past the last
            break
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if ids is not None:
        os.setgroups([])
        os.setgid(ids[1])
        os.setuid(ids[0])
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(ctypes.byref(_CapHeader(_CAP_VERSION_3, 0)), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")
    check = (ctypes.c_uint32 * 6)()
    libc.capget(ctypes.byref(_CapHeader(_CAP_VERSION_3, 0)), check)
    if any(check):
        raise OSError("capabilities survived the drop")


def non_dumpable() -> None:
    """Nobody of the same uid may ptrace us or open our /proc entries (memory, descriptors)."""
    prctl(_PR_SET_DUMPABLE, 0)


def reset_environment(workdir: str) -> None:
    os.environ.clear()
    os.environ.update(ENV, HOME=workdir, TMPDIR=workdir)
