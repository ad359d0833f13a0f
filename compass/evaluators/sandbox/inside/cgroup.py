"""The job cgroup, seen from inside the sandbox through directory descriptors the evaluator opened
(the supervisor may be chrooted where /sys is not visible). One cgroup per worker, reused by its
jobs one after another; the evaluator created it and set its limits (``memory``, ``pids``)."""
from __future__ import annotations

import contextlib
import os
import signal
import time


class JobCgroup:
    def __init__(self, dir_fds: list[int], version: int, name: str):
        self.fds, self.version = dir_fds, version  # v1: one directory per controller; v2: one
        self.suffix = "/" + name  # how the cgroup's path ends in /proc/<pid>/cgroup

    def join(self) -> None:
        """Move the calling process (and so all it starts) into the cgroup."""
        for fd in self.fds:
            _write(fd, "cgroup.procs", "0")

    def pids(self) -> list[int]:
        found: set[int] = set()
        for fd in self.fds:
            found.update(int(p) for p in _read(fd, "cgroup.procs").split() if p != "0")
        return sorted(found)

    def kill_all(self, patience_s: float = 5.0) -> bool:
        """SIGKILL every member until none is left (members forked meanwhile are caught by the next
        round); False if some survive ``patience_s`` (uninterruptible sleep)."""
        if self.version == 2:
            with contextlib.suppress(OSError):
                _write(self.fds[0], "cgroup.kill", "1")
        end = time.monotonic() + patience_s
        while pids := self.pids():
            for pid in pids:
                self._kill_member(pid)
            if time.monotonic() > end:
                return False
            time.sleep(0.001)
        return True

    def _kill_member(self, pid: int) -> None:
        """SIGKILL ``pid`` if it is still a member. Through a pidfd: a member that exited after the
        listing could have passed its pid on to an unrelated process, which must not be hit."""
        if not os.path.exists("/proc/self/cgroup"):  # a pid namespace without /proc: its pids are all the job's
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return
        try:
            fd = os.pidfd_open(pid)
        except OSError:  # gone already
            return
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                member = any(line.rstrip("\n").endswith(self.suffix) for line in f)
            if member:  # the pidfd holds the process that was a member just now, whatever its pid becomes
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(fd)

    def oom_kills(self) -> int:
        """How many processes the kernel killed for going over the memory limit, so far."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        for fd in self.fds:
            try:
                text = _read(fd, name)
            except OSError:
                continue
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0


def _read(dir_fd: int, name: str) -> str:
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return os.read(fd, 1 << 20).decode()
    finally:
        os.close(fd)


def _write(dir_fd: int, name: str, text: str) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
