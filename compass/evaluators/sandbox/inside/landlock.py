"""Landlock: an unprivileged, kernel-enforced allow-list of the files a process may touch.

A ruleset names which access rights it handles (everything this kernel's ABI knows); each rule
grants some of them beneath one path; ``restrict`` makes it permanent for the calling process and
its future children. With ABI >= 4 TCP bind/connect are handled (and nothing is granted); with
ABI >= 6 signals and abstract unix sockets are scoped to the process's own domain, so a program
cannot signal the tester, the supervisor or the evaluator even under the same uid.
"""
from __future__ import annotations

import ctypes
import os

_CREATE, _ADD_RULE, _RESTRICT = 444, 445, 446  # the same number on every architecture
_VERSION = 1
_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
READ = READ_FILE | READ_DIR | EXECUTE
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the rights a rule on a file may hold
_NET_TCP = 0b11  # bind, connect
_SCOPES = 0b11  # abstract unix sockets, signals

_libc = ctypes.CDLL(None, use_errno=True)


def abi() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing or disabled."""
    version = _libc.syscall(_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION))
    return max(version, 0)


def handled_fs(version: int) -> int:
    rights = (1 << 13) - 1  # v1: execute .. make_sym
    for since, right in ((2, REFER), (3, TRUNCATE), (5, IOCTL_DEV)):
        if version >= since:
            rights |= right
    return rights


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock {what}: {os.strerror(err)}")
    return result


class Ruleset:
    def __init__(self, version: int):
        self.version = version
        self.all_fs = handled_fs(version)
        fields = [self.all_fs]
        if version >= 4:
            fields.append(_NET_TCP)
        if version >= 6:
            fields.append(_SCOPES)
        attr = (ctypes.c_uint64 * len(fields))(*fields)
        self.fd = _check(_libc.syscall(_CREATE, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
                                       ctypes.c_uint32(0)), "create_ruleset")

    def allow(self, path: str, access: int) -> None:
        """Grant ``access`` beneath ``path`` (on the file itself if it is not a directory)."""
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            if not os.path.isdir(path):
                access &= _FILE_RIGHTS
            rule = _PathBeneath(access & self.all_fs, fd)
            _check(_libc.syscall(_ADD_RULE, self.fd, _PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)),
                   f"add_rule {path}")
        finally:
            os.close(fd)

    def allow_except(self, root: str, excluded: tuple[str, ...], access: int) -> None:
        """Grant ``access`` beneath ``root`` but not beneath any of ``excluded`` (a rule cannot be
        taken back below a grant, so the grant goes to every sibling on the way down instead)."""
        if not os.path.lexists(root):
            return
        inside = [e for e in excluded if (e + "/").startswith(root.rstrip("/") + "/")]
        if not inside:
            self.allow(root, access)
            return
        if root in inside or not os.path.isdir(root) or os.path.islink(root):
            return
        for name in sorted(os.listdir(root)):
            self.allow_except(os.path.join(root, name), tuple(inside), access)

    def close(self) -> None:
        os.close(self.fd)


def restrict(ruleset_fd: int) -> None:
    """Enforce a ruleset on this process and all it starts, irreversibly."""
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(_libc.syscall(_RESTRICT, ruleset_fd, ctypes.c_uint32(0)), "restrict_self")
