"""Total limits for all of a program's processes: one cgroup per worker (memory and pids
controllers), below the evaluator's own cgroup, where the host lets us create one (cgroup v1 with
writable memory and pids hierarchies, or v2 with both controllers delegated to our cgroup)."""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CgroupPlan:
    version: int
    parents: tuple[str, ...]  # v1: our memory and pids directories; v2: our unified directory


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _mountinfo() -> list[tuple[str, str, set[str]]]:
    """(mount point, fs type, options) of every cgroup mount."""
    out: list[tuple[str, str, set[str]]] = []
    lines = (_read("/proc/self/mountinfo") or "").splitlines()
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) > 4 and len(tail) > 2 and tail[0] in ("cgroup", "cgroup2"):
            out.append((fields[4], tail[0], set(tail[2].split(",")) | set(fields[5].split(","))))
    return out


def _own_paths() -> dict[str, str]:
    paths = {}
    for line in (_read("/proc/self/cgroup") or "").splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            paths[c] = path
    return paths


def discover() -> CgroupPlan | None:
    mounts, own = _mountinfo(), _own_paths()
    v1 = {}
    for point, fstype, opts in mounts:
        for controller in ("memory", "pids"):
            if fstype == "cgroup" and controller in opts and controller in own:
                v1[controller] = os.path.join(point, own[controller].lstrip("/"))
    if len(v1) == 2 and all(os.access(p, os.W_OK) for p in v1.values()):
        return CgroupPlan(1, (v1["memory"], v1["pids"]))
    for point, fstype, _ in mounts:
        if fstype == "cgroup2" and "" in own:
            parent = os.path.join(point, own[""].lstrip("/"))
            delegated = (_read(os.path.join(parent, "cgroup.subtree_control")) or "").split()
            if {"memory", "pids"} <= set(delegated) and os.access(parent, os.W_OK):
                return CgroupPlan(2, (parent,))
    return None


def own_memory_limit_mb() -> int | None:
    plan_paths = _own_paths()
    for point, fstype, opts in _mountinfo():
        if fstype == "cgroup" and "memory" in opts and "memory" in plan_paths:
            name = os.path.join(point, plan_paths["memory"].lstrip("/"), "memory.limit_in_bytes")
        elif fstype == "cgroup2" and "" in plan_paths:
            name = os.path.join(point, plan_paths[""].lstrip("/"), "memory.max")
        else:
            continue
        text = (_read(name) or "").strip()
        if text.isdigit() and int(text) < 1 << 60:
            return int(text) >> 20
    return None


PREFIX = "compass-sandbox-"


def stale(name: str) -> bool:
    """A ``compass-sandbox-<pid>-...`` entry whose evaluator (``pid``) is gone (killed before it
    could clean up)."""
    if not name.startswith(PREFIX):
        return False
    pid = name[len(PREFIX):].split("-", 1)[0]
    return pid.isdigit() and not os.path.exists(f"/proc/{pid}")


def remove_stale(plan: CgroupPlan) -> None:
    """Remove our dead predecessors' worker cgroups (left empty: their members died with them)."""
    for parent in plan.parents:
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in filter(stale, names):
            with contextlib.suppress(OSError):  # not empty, or raced by another evaluator
                os.rmdir(os.path.join(parent, name))


class WorkerCgroup:
    """A cgroup for one worker's programs, with the total limits set; the worker's supervisor
    moves each program into it and empties it after each job."""

    def __init__(self, plan: CgroupPlan, memory_mb: int, max_procs: int):
        self.plan = plan
        self.name = name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.dirs = [os.path.join(parent, name) for parent in plan.parents]
        settings = {"memory.limit_in_bytes": memory_mb << 20, "memory.memsw.limit_in_bytes": memory_mb << 20,
                    "memory.max": memory_mb << 20, "memory.swap.max": 0, "pids.max": max_procs}
        try:
            for path in self.dirs:
                os.mkdir(path)
                for key, value in settings.items():
                    if os.path.exists(os.path.join(path, key)):
                        with open(os.path.join(path, key), "w") as f:
                            f.write(str(value))
        except OSError:
            self.destroy()
            raise

    def open_fds(self) -> list[int]:
        return [os.open(path, os.O_RDONLY | os.O_DIRECTORY) for path in self.dirs]

    def destroy(self) -> None:
        """Kill whatever is left in it, then remove it."""
        end = time.monotonic() + 5.0
        for path in self.dirs:
            while os.path.isdir(path):
                for pid in (_read(os.path.join(path, "cgroup.procs")) or "").split():
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                try:
                    os.rmdir(path)
                except OSError:
                    if time.monotonic() > end:
                        log.warning("could not remove the sandbox cgroup %s", path)
                        break
                    time.sleep(0.01)
