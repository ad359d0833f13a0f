"""The ``best_effort`` mode's extra layer: a ``sys.addaudithook`` guard. It is NOT a boundary (native
code, interpreter bugs and anything that avoids the audited functions get past it), which is why
that mode runs only with the opt-in variable and a warning."""
from __future__ import annotations

import os
import sys

_DENY = frozenset({
    "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
    "socket.gethostbyname", "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
    "os.fork", "os.forkpty", "os.kill", "os.killpg", "signal.pthread_kill", "os.chdir", "os.fchdir",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._getframe", "sys._current_frames",
    "ctypes.dlopen", "ctypes.dlsym", "ctypes.addressof", "ctypes.string_at", "ctypes.cdata"})
_NO_IMPORT = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "_xxsubinterpreters", "_interpreters",
                        "_xxinterpchannels", "_interpchannels", "_interpqueues"})
_MUTATE = frozenset({"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.chmod",
                     "os.chown", "os.truncate", "os.utime", "os.mkfifo", "os.mknod"})
_LIST = frozenset({"os.listdir", "os.scandir", "glob.glob", "os.walk"})


def install(workdir: str, readable: tuple[str, ...]) -> None:
    """Refuse, at the Python level, what the other modes refuse in the kernel. Names the hook uses
    are bound now (defaults), so rebinding module attributes later does not reach it."""
    work = os.path.realpath(workdir) + "/"

    def resolve(path, fsdecode=os.fsdecode, realpath=os.path.realpath, join=os.path.join):
        return realpath(join(work, fsdecode(path)))

    def hook(event, args, isinstance=isinstance, all=all, PermissionError=PermissionError,
             wflags=os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
        if event in _DENY or event.startswith("ctypes.") or (event == "import" and args[0] in _NO_IMPORT):
            raise PermissionError(f"sandbox: {event} blocked")
        if event == "open" and isinstance(args[0], (str, bytes)):
            mode, flags = args[1], args[2] or 0
            write = (isinstance(mode, str) and mode.strip("rbt") != "") or flags & wflags
            path = resolve(args[0])
            if not (path + "/").startswith(work) and (write or not path.startswith(readable)):
                raise PermissionError(f"sandbox: access to {path} blocked")
        if event in _LIST and args and isinstance(args[0], (str, bytes)):
            path = resolve(args[0])
            if not (path + "/").startswith(work) and not path.startswith(readable):
                raise PermissionError(f"sandbox: listing {path} blocked")
        if event in _MUTATE and not all((resolve(a) + "/").startswith(work)
                                        for a in args[:2] if isinstance(a, (str, bytes))):
            raise PermissionError(f"sandbox: {event} outside the work dir blocked")

    sys.addaudithook(hook)
