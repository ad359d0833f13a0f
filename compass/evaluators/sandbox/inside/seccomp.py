"""A seccomp-BPF filter for sandboxed processes: the kernel refuses the system calls a program could
use to leave or see past its sandbox, in every mode (with namespaces it is a second wall).

Always refused: new sockets (``socketpair`` stays), ptrace and reading other processes' memory,
namespaces and mounts, kernel keyrings, BPF, io_uring (it bypasses this filter), modules, SysV and
POSIX IPC objects (they outlive the process), and ``clone`` with namespace flags. ``clone3`` and
``openat2`` answer ENOSYS (their flags sit in a struct the filter cannot read) so libc falls back to
``clone``/``openat``. Per policy, also refused: new processes (threads stay), creating files, and
sending signals. Unknown architectures, and x32 calls on x86_64, kill the process.
"""
from __future__ import annotations

import ctypes
import errno
import os

_ALWAYS = ["socket", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "perf_event_open", "bpf",
           "userfaultfd", "keyctl", "add_key", "request_key", "mount", "umount2", "pivot_root", "chroot", "unshare",
           "setns", "io_uring_setup", "io_uring_enter", "io_uring_register", "init_module", "finit_module",
           "delete_module", "kexec_load", "kexec_file_load", "name_to_handle_at", "open_by_handle_at", "open_tree",
           "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "acct", "swapon", "swapoff",
           "reboot", "fanotify_init", "quotactl", "quotactl_fd", "syslog", "iopl", "ioperm", "lookup_dcookie",
           "vhangup", "uselib", "process_madvise", "shmget", "semget", "msgget", "mq_open", "personality"]
_NEW_PROCESS = ["fork", "vfork"]  # and clone without CLONE_THREAD
_CREATE = ["creat", "mknod", "mknodat", "mkdir", "mkdirat", "symlink", "symlinkat", "link", "linkat", "rename",
           "renameat", "renameat2", "memfd_create"]  # and open(at) with O_CREAT or O_TMPFILE
_SIGNAL = ["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal"]
_ENOSYS = ["clone3", "openat2"]

_X86_64 = {
    "socket": 41, "clone": 56, "fork": 57, "vfork": 58, "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo":
    129, "rt_tgsigqueueinfo": 297, "pidfd_send_signal": 424, "pidfd_getfd": 438, "clone3": 435, "openat2": 437,
    "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "open": 2, "openat": 257, "creat": 85, "mknod":
    133, "mknodat": 259, "mkdir": 83, "mkdirat": 258, "symlink": 88, "symlinkat": 266, "link": 86, "linkat": 265,
    "rename": 82, "renameat": 264, "renameat2": 316, "memfd_create": 319, "shmget": 29, "semget": 64, "msgget": 68,
    "mq_open": 240, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308,
    "perf_event_open": 298, "bpf": 321, "userfaultfd": 323, "keyctl": 250, "add_key": 248, "request_key": 249,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320, "name_to_handle_at": 303, "open_by_handle_at":
    304, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "acct": 163, "swapon": 167, "swapoff": 168, "reboot": 169, "personality": 135,
    "fanotify_init": 300, "quotactl": 179, "quotactl_fd": 443, "syslog": 103, "iopl": 172, "ioperm": 173,
    "lookup_dcookie": 212, "vhangup": 153, "uselib": 134, "process_madvise": 440, "ptrace": 101}
_AARCH64 = {  # the generic table: no fork, vfork, open, creat, mknod, mkdir, symlink, link, rename
    "socket": 198, "clone": 220, "kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138,
    "rt_tgsigqueueinfo": 240, "pidfd_send_signal": 424, "pidfd_getfd": 438, "clone3": 435, "openat2": 437,
    "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272, "openat": 56, "mknodat": 33, "mkdirat": 34,
    "symlinkat": 36, "linkat": 37, "renameat": 38, "renameat2": 276, "memfd_create": 279, "shmget": 194, "semget":
    190, "msgget": 186, "mq_open": 180, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "unshare": 97,
    "setns": 268, "perf_event_open": 241, "bpf": 280, "userfaultfd": 282, "keyctl": 219, "add_key": 217,
    "request_key": 218, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "init_module": 105,
    "finit_module": 273, "delete_module": 106, "kexec_load": 104, "kexec_file_load": 294, "open_tree": 428,
    "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "acct":
    89, "swapon": 224, "swapoff": 225, "reboot": 142, "personality": 92, "fanotify_init": 262, "quotactl": 60,
    "quotactl_fd": 443, "syslog": 116, "lookup_dcookie": 18, "vhangup": 58, "process_madvise": 440, "ptrace": 117}
_ARCHES = {"x86_64": (0xC000003E, _X86_64), "aarch64": (0xC00000B7, _AARCH64)}

_CLONE_THREAD = 0x00010000
_CLONE_NAMESPACES = 0x7E020080  # NEWNS NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID NEWNET NEWTIME
_OPEN_CREATES = 0o100 | 0o20000000  # O_CREAT, __O_TMPFILE
_RET_KILL, _RET_ALLOW, _RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_PR_SET_NO_NEW_PRIVS, _PR_GET_SECCOMP, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 21, 22, 2


def available() -> bool:
    if os.uname().machine not in _ARCHES:
        return False
    return ctypes.CDLL(None, use_errno=True).prctl(_PR_GET_SECCOMP, 0, 0, 0, 0) >= 0


def build(*, processes: bool, create_files: bool, signals: bool) -> bytes:
    """The filter program for this machine's architecture (sock_filter array, as bytes)."""
    arch, table = _ARCHES[os.uname().machine]
    code: list = [(_LD, 0, 0, 4), (_JEQ, 0, "kill", arch), (_LD, 0, 0, 0)]  # BPF jumps forward only
    if arch == 0xC000003E:
        code.append((_JGE, "kill", 0, 0x40000000))  # the x32 ABI: a second numbering of every call
    deny = list(_ALWAYS) + ([] if processes else _NEW_PROCESS) + ([] if create_files else _CREATE) \
        + ([] if signals else _SIGNAL)
    code += [(_JEQ, "eperm", 0, table[name]) for name in deny if name in table]
    code += [(_JEQ, "enosys", 0, table[name]) for name in _ENOSYS]
    code.append((_JEQ, "clone", 0, table["clone"]))
    if not create_files:
        code += [(_JEQ, "open_flags1", 0, table[name]) for name in ("open",) if name in table]
        code.append((_JEQ, "open_flags2", 0, table["openat"]))
    code += [(_RET, 0, 0, _RET_ALLOW),
             "clone", (_LD, 0, 0, 16), (_JSET, "eperm", 0, _CLONE_NAMESPACES),
             (_JSET, "allow", "eperm" if not processes else "allow", _CLONE_THREAD),
             "open_flags1", (_LD, 0, 0, 24), (_JSET, "eperm", "allow", _OPEN_CREATES),
             "open_flags2", (_LD, 0, 0, 32), (_JSET, "eperm", "allow", _OPEN_CREATES),
             "allow", (_RET, 0, 0, _RET_ALLOW),
             "eperm", (_RET, 0, 0, _RET_ERRNO | errno.EPERM),
             "enosys", (_RET, 0, 0, _RET_ERRNO | errno.ENOSYS),
             "kill", (_RET, 0, 0, _RET_KILL)]
    return _assemble(code)


def _assemble(code: list) -> bytes:
    labels: dict[str, int] = {}
    instructions: list[tuple] = []
    for item in code:
        if isinstance(item, str):
            labels[item] = len(instructions)
        else:
            instructions.append(item)
    out = bytearray()
    for index, (op, jt, jf, k) in enumerate(instructions):
        jumps = [labels[j] - index - 1 if isinstance(j, str) else j for j in (jt, jf)]
        if not all(0 <= j < 256 for j in jumps):
            raise ValueError(f"seccomp: jump out of range at {index}")
        out += op.to_bytes(2, "little") + bytes(jumps) + k.to_bytes(4, "little")
    return bytes(out)


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(program: bytes) -> None:
    """Apply ``program`` to this thread and its future children, for good."""
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _Program(len(program) // 8, ctypes.addressof(buf))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {os.strerror(err)}")
