"""Isolation modes, in the order ``auto`` tries them, and what each needs from the host.

* ``namespaces``: our own mount/pid/net/ipc/uts namespaces (plus a user namespace when not root;
  reported as ``userns``) and a private root. The default wherever the kernel allows it.
* ``bwrap``: the same walls built by bubblewrap (``/usr/bin/bwrap``), for hosts where only a
  setuid bwrap may create namespaces.
* ``landlock``: no namespaces; Landlock (ABI >= 3) confines files, seccomp refuses sockets,
  ptrace and the rest, and a root evaluator runs programs as throw-away uids.
* ``best_effort``: whatever of the above layers this host has, plus a Python audit hook. Not a
  boundary: it runs only when ``COMPASS_ALLOW_UNSAFE_CODE_EVAL=1`` is set, and says so in a warning.
"""
from __future__ import annotations

import glob
import logging
import os
import shutil
import sys
import tempfile
from typing import Literal

from compass.evaluators.sandbox.inside import landlock, seccomp
from compass.evaluators.sandbox.inside.nsroot import RO_PATHS

log = logging.getLogger(__name__)

Isolation = Literal["auto", "namespaces", "bwrap", "landlock", "best_effort"]
MODES = ("namespaces", "bwrap", "landlock", "best_effort")
ALIASES = {"fallback": "landlock"}  # the name the fallback had before it became a boundary
OPT_IN = "COMPASS_ALLOW_UNSAFE_CODE_EVAL"
MIN_LANDLOCK_ABI = 3  # truncate is handled from 3 on; before, a program could truncate files it can reach
SANDBOX_DIR = os.path.dirname(os.path.abspath(__file__))
LAUNCHER = os.path.join(SANDBOX_DIR, "inside", "main.py")
PREIMPORT = ["typing", "math", "re", "collections", "itertools", "functools", "string", "hashlib", "heapq",
             "bisect", "random", "copy", "fractions", "decimal", "statistics", "datetime", "operator", "json",
             "traceback", "threading", "atexit", "inside.candidate", "inside.tester", "inside.program",
             "inside.audit"]


class SandboxUnavailable(RuntimeError):
    """No mode that may run here could start; the message says why, per mode."""


def resolve(isolation: str) -> list[str]:
    """The modes to try, in order, for an ``isolation`` setting."""
    isolation = ALIASES.get(isolation, isolation)
    if isolation == "auto":
        return ["namespaces", "bwrap", "landlock"] + (["best_effort"] if opted_in() else [])
    if isolation not in MODES:
        raise ValueError(f"unknown isolation {isolation!r}; expected auto or one of {', '.join(MODES)}")
    return [isolation]


def opted_in() -> bool:
    return os.environ.get(OPT_IN, "") == "1"


def static_refusal(mode: str) -> str | None:
    """Why ``mode`` cannot run here, as far as is known without starting it."""
    if mode == "bwrap" and not bwrap_path():
        return "bubblewrap is not installed (bwrap not on PATH)"
    if mode == "landlock":
        abi = landlock.abi()
        if abi < MIN_LANDLOCK_ABI:
            return f"Landlock ABI {abi} (needs {MIN_LANDLOCK_ABI}: Linux 6.2 with Landlock enabled)"
        if not seccomp.available():
            return f"no seccomp filter for {os.uname().machine}"
    if mode == "best_effort" and not opted_in():
        return f"not a security boundary: set {OPT_IN}=1 to run untrusted code this way"
    return None


def bwrap_path() -> str | None:
    return shutil.which("bwrap") or ("/usr/bin/bwrap" if os.access("/usr/bin/bwrap", os.X_OK) else None)


def interpreter() -> str:
    """The real interpreter (not a venv's link): its prefix is what the sandbox exposes."""
    return os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable)


def python_dirs() -> list[str]:
    return list(dict.fromkeys([os.path.realpath(sys.base_prefix), os.path.dirname(interpreter())]))


def hidden_dirs(roots: list[str]) -> list[str]:
    """site-packages and dist-packages below the exposed directories: installed packages (and a
    data set shipped in one, with its tests) stay out of the programs' sight."""
    found: list[str] = []
    for root in roots:
        for pattern in ("lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages",
                        "local/lib/python3*/site-packages", "local/lib/python3*/dist-packages"):
            found += [os.path.realpath(p) for p in glob.glob(os.path.join(root, pattern)) if os.path.isdir(p)]
    return sorted(set(found))


def _ancestors(path: str) -> list[str]:
    out = []
    while path not in ("/", ""):
        out.append(path)
        path = os.path.dirname(path)
    return out


def readable_by_others(paths: list[str]) -> bool:
    """Whether a uid other than ours could use these paths as they are on the host (every
    ancestor searchable, the paths themselves readable)."""
    for path in paths:
        for part in _ancestors(os.path.dirname(path)):
            if not os.stat(part).st_mode & 0o001:
                return False
        if not os.stat(path).st_mode & 0o004:
            return False
    return True


def uid_range(mode: str) -> tuple[int, int] | None:
    """Throw-away uids a root evaluator may use, unused by the system and its users; None where
    they cannot work: not root, or (without our own root directory) an interpreter other users
    cannot read, such as one under /root."""
    if os.geteuid() != 0:
        return None
    if mode not in ("namespaces", "bwrap") and not readable_by_others(python_dirs()):
        return None
    try:
        with open("/proc/self/uid_map") as f:
            ranges = [tuple(map(int, line.split())) for line in f]
    except (OSError, ValueError):
        return None
    inside, _, count = max(ranges, key=lambda r: r[2])
    lo = max(inside, 100_000 if inside + count > 1 << 20 else 10_000)
    hi = min(inside + count - 2, lo + (1 << 30))  # - 2: not the overflow id
    return (lo, hi) if hi > lo + 1000 else None


def scratch_base() -> str:
    """Where the ``landlock`` mode puts a worker's scratch directory: a RAM disk, so files count
    against the program's memory cgroup; the temp dir where there is none."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        try:
            with open("/proc/self/mounts") as f:
                if any(line.split()[1:3] == [shm, "tmpfs"] for line in f):
                    return shm
        except OSError:
            pass
    return tempfile.gettempdir()


def bwrap_args(limits_disk_mb: int, root: bool) -> list[str]:
    """bubblewrap's command line up to the program: the same root our namespaces mode builds."""
    args = [bwrap_path() or "bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid",
            "--unshare-net", "--unshare-uts", "--unshare-cgroup-try", "--cap-add", "ALL"]
    if not root:
        args.insert(1, "--unshare-user")
    exposed = [p for p in (*RO_PATHS, *python_dirs()) if os.path.lexists(p)]
    parents = {os.path.dirname(p) for p in exposed}
    for parent in sorted({a for p in parents for a in _ancestors(p)} - {"/"} - set(exposed)):
        args += ["--perms", "0755", "--dir", parent]  # bwrap would make them 0700: closed to other uids
    for path in exposed:
        args += ["--ro-bind", path, path] if not os.path.islink(path) else ["--symlink", os.readlink(path), path]
    for path in hidden_dirs(exposed):
        args += ["--tmpfs", path, "--remount-ro", path]
    args += ["--dev", "/dev", "--proc", "/proc", "--size", str(limits_disk_mb << 20), "--perms", "0711",
             "--tmpfs", "/tmp", "--ro-bind", SANDBOX_DIR, "/compass-sandbox", "--chdir", "/", "--"]
    return args
