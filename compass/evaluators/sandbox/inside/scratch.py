"""Emptying a job's scratch directory: whatever the program left there (deep trees, symlinks,
directories it made unreadable), without ever acting outside it.

Iterative (a tree may be deeper than any recursion or descriptor limit), one directory level at a
time through the current directory (so no path gets too long), every step by descriptor: a
directory is entered only through ``O_NOFOLLOW`` and left through ``..`` checked against the inode
it came from, entries are removed relative to the directory in hand. The supervisor calls it only
once every process of the job is dead, so nothing changes the tree meanwhile; should it change
anyway, the checks stop the walk (``ScratchChanged``) instead of following it elsewhere.
"""
from __future__ import annotations

import os

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class ScratchChanged(RuntimeError):
    """A directory was not where the walk left it."""


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _enter(name: str) -> tuple[int, int]:
    """Make ``name`` (a directory here, never a symlink) the current directory; its identity."""
    try:
        fd = os.open(name, _DIR)
    except PermissionError:  # made unreadable by the program: we own it (or are root)
        path_fd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.chmod(f"/proc/self/fd/{path_fd}", 0o700)  # the inode held, not whatever the name is now
        finally:
            os.close(path_fd)
        fd = os.open(name, _DIR)
    try:
        os.fchdir(fd)
        return _identity(os.fstat(fd))
    finally:
        os.close(fd)


def clear(path: str) -> None:
    """Remove everything inside ``path`` (which stays); the current directory ends up in ``path``."""
    chain = [_enter(path)]  # identities from ``path`` down to the current directory
    names: list[str] = []
    while True:
        with os.scandir(".") as it:
            entries = list(it)
        sub = next((e.name for e in entries if e.is_dir(follow_symlinks=False)), None)
        if sub is not None:
            chain.append(_enter(sub))
            names.append(sub)
            continue
        for entry in entries:
            os.unlink(entry.name)
        if not names:
            return
        fd = os.open("..", _DIR)
        try:
            if _identity(os.fstat(fd)) != chain[-2]:
                raise ScratchChanged(f"{path}: the tree changed while it was being removed")
            os.fchdir(fd)
        finally:
            os.close(fd)
        chain.pop()
        os.rmdir(names.pop())
