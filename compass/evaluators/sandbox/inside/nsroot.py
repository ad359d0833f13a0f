"""Linux namespaces and a private root, for the ``namespaces`` mode (``userns`` when not root).

``enter`` unshares mount, pid, net, ipc and uts namespaces (plus a user namespace mapping the
caller's uid to itself when it is not root) and forks pid 1 of the new pid namespace; ``build_root``
mounts a tmpfs (over the host's temp dir, in the private mount namespace: nothing appears on the
host) holding read-only binds of the system directories and the interpreter, with every
site-packages directory covered by an empty read-only tmpfs, fresh /dev nodes, /proc, and a
size-capped /tmp; then chroots into it.
"""
from __future__ import annotations

import ctypes
import os

_NEWNS, _NEWUTS, _NEWIPC, _NEWUSER, _NEWPID, _NEWNET = 0x20000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, \
    0x40000000
_RDONLY, _NOSUID, _NODEV, _NOEXEC, _REMOUNT, _BIND, _REC, _PRIVATE, _RELATIME = 1, 2, 4, 8, 32, 4096, 16384, \
    1 << 18, 1 << 21
RO_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache", "/etc/ld.so.conf",
            "/etc/ld.so.conf.d", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/localtime",
            "/etc/alternatives")
DEVICES = ("null", "zero", "full", "random", "urandom")

libc = ctypes.CDLL(None, use_errno=True)


def _enc(text: str | None) -> bytes | None:
    return text.encode() if isinstance(text, str) else text


def _mount(src, dst, fstype, flags, data=None) -> None:
    if libc.mount(_enc(src), _enc(dst), _enc(fstype), flags, _enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {src} -> {dst}: {os.strerror(err)}")


def enter(root: bool) -> None:
    """Unshare the namespaces; raises OSError where the kernel or a seccomp policy refuses."""
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(_NEWNS | _NEWUTS | _NEWIPC | _NEWPID | _NEWNET | (0 if root else _NEWUSER)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")
    if not root:  # identity map: capabilities inside until exec or an explicit drop
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)


def _bind_ro(src: str, dst: str) -> None:
    _mount(src, dst, None, _BIND | _REC)
    flags = os.statvfs(src).f_flag  # keep the flags a user namespace locks (nodev, noexec, atime)
    keep = (flags & (_NODEV | _NOEXEC | 1024 | 2048)) | (_RELATIME if flags & 4096 else 0)
    _mount(None, dst, None, _REMOUNT | _BIND | _RDONLY | _NOSUID | keep)


def build_root(mountpoint: str, extra_ro: list[str], hidden: list[str], tmp_mb: int) -> bool:
    """Build the private root over ``mountpoint`` and chroot into it; returns whether /proc is
    mounted (some container runtimes refuse a fresh one)."""
    _mount(None, "/", None, _REC | _PRIVATE)  # nothing propagates back to the host
    _mount("tmpfs", mountpoint, "tmpfs", _NOSUID | _NODEV, "size=1m,mode=755")
    new = mountpoint.rstrip("/")
    done: list[str] = []
    for path in (*RO_PATHS, *extra_ro):
        if not os.path.lexists(path) or any((path + "/").startswith(d + "/") for d in done):
            continue
        dst = new + path
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(path):
            os.symlink(os.readlink(path), dst)
            continue
        os.mkdir(dst) if os.path.isdir(path) else open(dst, "x").close()
        _bind_ro(path, dst)
        done.append(path)
    for path in hidden:  # site-packages: an installed data set (or its tests) must not be readable
        if os.path.isdir(new + path) and any((path + "/").startswith(d + "/") for d in done):
            _mount("tmpfs", new + path, "tmpfs", _RDONLY | _NOSUID | _NODEV | _NOEXEC, "size=4k,mode=755")
    os.mkdir(new + "/dev")
    for dev in DEVICES:
        open(f"{new}/dev/{dev}", "x").close()
        _mount("/dev/" + dev, f"{new}/dev/{dev}", None, _BIND)
    os.mkdir(new + "/tmp")
    _mount("tmpfs", new + "/tmp", "tmpfs", _NOSUID | _NODEV, f"size={tmp_mb}m,nr_inodes=16384,mode=711")
    os.mkdir(new + "/proc")
    try:
        _mount("proc", new + "/proc", "proc", _NOSUID | _NODEV | _NOEXEC)
        proc = True
    except OSError:
        proc = False
    _mount(None, new, None, _REMOUNT | _BIND | _RDONLY | _NOSUID | _NODEV)
    os.chroot(new)  # a chrooted process cannot create a user namespace (no nested escape)
    os.chdir("/")
    return proc
