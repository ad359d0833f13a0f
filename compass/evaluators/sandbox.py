"""Run untrusted (model-written) Python in an isolated child process. See docs/sandbox.md.

Layers: Linux namespaces (mount, pid, net, ipc, uts; plus user when not root) with a chroot
onto a tmpfs that holds only read-only system dirs and the interpreter; an unprivileged uid
(a random, otherwise unused one when we are root); rlimits; an empty environment;
``python -I -S``; a wall-clock timeout; capped output.  Without namespaces a best-effort
audit-hook fallback blocks sockets, subprocesses, ctypes and file access outside the work dir.

This file doubles as the launcher: the parent runs ``python -I -S sandbox.py`` and sends it a
JSON config on stdin, so the privileged setup never runs in ``preexec_fn`` (unsafe with threads).
Process tree: parent -> launcher (new session) -> init (pid 1 of the new pid namespace: mounts,
timeout, reaping) -> user program (rlimits, uid drop, no_new_privs, exec).
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import sys

_NS_FLAGS = 0x00020000 | 0x04000000 | 0x08000000 | 0x20000000 | 0x40000000  # NS UTS IPC PID NET
_CLONE_NEWUSER = 0x10000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE, _MS_RELATIME = 32, 4096, 16384, 1 << 18, 1 << 21
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
# Only what an interpreter needs; no /home, /root, /work, /run, /var, no /etc secrets.
_RO_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache",
             "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/passwd", "/etc/group",
             "/etc/nsswitch.conf", "/etc/localtime", "/etc/alternatives")
_DEVICES = ("null", "zero", "full", "random", "urandom")
_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}

# Fallback only (no namespaces): a Python-level guard, installed before main.py runs.  Native
# code would bypass it, hence ctypes, subprocess and raw sockets are refused outright.  The
# hook's own names are bound at install time (defaults/closure cells) and gc introspection,
# which could reach those cells, is refused; os.path internals stay patchable (best effort).
_PRELUDE = r'''
import os, sys
def _install(cwd=os.getcwd() + "/", realpath=os.path.realpath, fsdecode=os.fsdecode):
    ro = tuple({os.path.dirname(os.__file__) + "/", sys.base_prefix + "/", "/usr/lib/",
                "/usr/share/zoneinfo/", "/dev/null", "/dev/urandom", "/etc/localtime"})
    deny = frozenset({"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                      "socket.getaddrinfo", "socket.gethostbyname", "subprocess.Popen",
                      "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
                      "os.kill", "os.killpg", "signal.pthread_kill", "os.chdir", "gc.get_objects",
                      "gc.get_referrers", "gc.get_referents"})
    no_import = frozenset({"ctypes", "_ctypes", "_posixsubprocess"})
    mutate = frozenset({"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link",
                        "os.chmod", "os.chown", "os.truncate", "os.utime", "os.mkfifo", "os.mknod"})
    wflags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    def resolve(path):  # relative to the pinned cwd (chdir is refused), not os.getcwd()
        path = fsdecode(path)
        return realpath(path if path.startswith("/") else cwd + path)
    def hook(ev, args, isinstance=isinstance, all=all, PermissionError=PermissionError):
        if ev in deny or ev.startswith("ctypes.") or (ev == "import" and args[0] in no_import):
            raise PermissionError(f"sandbox: {ev} blocked")
        if ev == "open" and isinstance(args[0], (str, bytes)):
            mode, flags = args[1], args[2] or 0
            write = (isinstance(mode, str) and mode.strip("rbt") != "") or flags & wflags
            p = resolve(args[0])
            if not (p + "/").startswith(cwd) and (write or not p.startswith(ro)):
                raise PermissionError(f"sandbox: access to {p} blocked")
        if ev in mutate and not all((resolve(a) + "/").startswith(cwd)
                                    for a in args[:2] if isinstance(a, (str, bytes))):
            raise PermissionError(f"sandbox: {ev} outside the work dir blocked")
    sys.addaudithook(hook)
_install()
del _install
exec(compile(open("main.py").read(), "main.py", "exec"), {"__name__": "__main__"})
'''


class _Terminated(Exception):
    """The launcher died (parent gave up): clean up, then leave."""


def _emit(fd: int, msg: dict) -> None:
    os.write(fd, (json.dumps(msg) + "\n").encode()[:4000])  # < PIPE_BUF: atomic


def _mount(libc, src, dst, fstype, flags, data=None) -> None:
    enc = lambda s: s.encode() if isinstance(s, str) else s  # noqa: E731
    if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {src} -> {dst}: {os.strerror(err)}")


def _pick_id(map_file: str) -> int:
    """A random, otherwise unused id: per-uid limits (RLIMIT_NPROC, kill(-1)) become per-run."""
    ranges = [tuple(map(int, line.split())) for line in open(map_file)]
    inside, _, count = max(ranges, key=lambda r: r[2])
    lo = max(inside, 100_000 if inside + count > 1 << 20 else 10_000)  # skip system/user ids
    hi = inside + count - 2  # and the overflow id
    if hi <= lo:
        raise OSError(f"no unprivileged id mapped in {map_file}")
    return lo + int.from_bytes(os.urandom(4), "big") % min(hi - lo, 1 << 30)


def _build_root(cfg: dict, libc) -> bool:
    """Private mount tree: tmpfs root with read-only binds, fresh /proc, size-capped /tmp."""
    new, lim = cfg["workdir"], cfg["limits"]
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)  # nothing propagates to the host
    _mount(libc, "tmpfs", new, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=755")
    done: list[str] = []
    for path in (*_RO_PATHS, *cfg["python_dirs"]):
        if not os.path.lexists(path) or any((path + "/").startswith(d + "/") for d in done):
            continue
        dst = new + path
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(path):
            os.symlink(os.readlink(path), dst)
            continue
        os.mkdir(dst) if os.path.isdir(path) else open(dst, "x").close()
        _mount(libc, path, dst, None, _MS_BIND | _MS_REC)
        f = os.statvfs(path).f_flag  # keep flags a user namespace locks (nodev/noexec/atime)
        keep = (f & (_MS_NODEV | _MS_NOEXEC | 1024 | 2048)) | (_MS_RELATIME if f & 4096 else 0)
        _mount(libc, None, dst, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | keep)
        done.append(path)
    os.mkdir(new + "/dev")
    for dev in _DEVICES:
        open(f"{new}/dev/{dev}", "x").close()
        _mount(libc, "/dev/" + dev, f"{new}/dev/{dev}", None, _MS_BIND)
    os.mkdir(new + "/tmp")
    _mount(libc, "tmpfs", new + "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV,
           f"size={lim['max_disk_mb']}m,nr_inodes=4096,mode=1777")
    os.mkdir(new + "/proc")
    try:  # refused in some containers (masked /proc); the program then simply has no /proc
        _mount(libc, "proc", new + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
        proc = True
    except OSError:
        proc = False
    _mount(libc, None, new, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    os.chroot(new)  # chrooted processes also cannot create user namespaces (no nested escape)
    os.chdir("/")  # never keep a cwd outside the new root
    return proc


def _exec_user(cfg: dict, libc, ns: bool, ids: tuple[int, int] | None, workdir: str) -> None:
    status, lim = cfg["status_fd"], cfg["limits"]
    try:
        os.set_inheritable(status, False)
        os.chdir(workdir)
        mb = 1 << 20
        for res, soft, hard in (
                (resource.RLIMIT_CPU, lim["cpu_s"], lim["cpu_s"] + 1),  # SIGXCPU, then SIGKILL
                (resource.RLIMIT_AS, lim["memory_mb"] * mb, lim["memory_mb"] * mb),
                (resource.RLIMIT_NPROC, lim["max_procs"], lim["max_procs"]),
                (resource.RLIMIT_FSIZE, lim["max_file_mb"] * mb, lim["max_file_mb"] * mb),
                (resource.RLIMIT_NOFILE, lim["max_open_files"], lim["max_open_files"]),
                (resource.RLIMIT_CORE, 0, 0)):
            cur = resource.getrlimit(res)[1]  # a non-root parent can only lower hard limits
            hard = hard if cur == resource.RLIM_INFINITY else min(hard, cur)
            resource.setrlimit(res, (min(soft, hard), hard))
        if ids:  # root: drop to the throw-away uid; all capabilities go with it
            os.setgroups([])
            os.setgid(ids[1])
            os.setuid(ids[0])
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # setuid binaries (su, sudo) stay inert
        env = dict(_ENV, HOME=workdir, TMPDIR=workdir)
        args = ["-I", "-S", "-B", "main.py"] if ns else ["-I", "-S", "-B", "-c", _PRELUDE]
        err: OSError | None = None
        for exe in cfg["pythons"]:  # first one this uid can execute inside its view of the fs
            try:
                os.execve(exe, [exe, *args], env)
            except OSError as e:
                err = e
        raise err or OSError("no interpreter")
    except BaseException as e:  # noqa: BLE001 - report anything, then die
        _emit(status, {"error": f"exec failed: {e!r}"})
    os._exit(127)


def _children() -> list[int]:
    me, kids = str(os.getpid()), []
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:  # namespace mode without /proc: the kernel still kills them with us
        return kids
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[1] == me:
                    kids.append(int(pid))
        except (OSError, IndexError):
            pass
    return kids


def _reap() -> bool:
    """Collect zombies; False once no child at all is left."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
        return True
    except ChildProcessError:
        return False


def _sweep(ids: tuple[int, int] | None) -> None:
    """Fallback mode has no pid namespace: kill everything the program left behind."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for _ in range(200):
        if ids:  # as the throw-away uid, kill(-1) hits exactly the program's processes
            if (helper := os.fork()) == 0:
                try:
                    os.setgid(ids[1]), os.setuid(ids[0]), os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(helper, 0)
        for kid in _children():  # we are a subreaper: orphans (daemons) are re-parented to us
            try:
                os.kill(kid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not _reap():
            return
        select.select([], [], [], 0.01)


def _init(cfg: dict, libc, ns: bool, ids: tuple[int, int] | None, alive_r: int) -> None:
    status, lim = cfg["status_fd"], cfg["limits"]
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL if ns else signal.SIGTERM, 0, 0, 0)
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)  # the program cannot ptrace or open our /proc
    if select.select([alive_r], [], [], 0)[0]:
        os._exit(1)  # launcher died before PDEATHSIG was armed
    os.umask(0o022)
    if ns:
        proc = _build_root(cfg, libc)
        workdir = "/tmp"
    else:
        os.setsid()  # survive the parent's killpg long enough to _sweep
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        proc, workdir = True, cfg["workdir"]
        if ids:
            os.chown(workdir, *ids)
    with open(os.path.join(workdir, "main.py"), "w", encoding="utf-8") as f:
        f.write(cfg["code"])

    def on_signal(signum, _frame):
        raise TimeoutError if signum == signal.SIGALRM else _Terminated

    signal.signal(signal.SIGALRM, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    _emit(status, {"isolation": {**cfg["info"], "proc": proc}})
    upid = os.fork()
    if upid == 0:
        _exec_user(cfg, libc, ns, ids, workdir)
    signal.setitimer(signal.ITIMER_REAL, lim["timeout_s"])
    try:
        while (pid_st := os.waitpid(-1, 0))[0] != upid:  # also reaps orphans
            pass
        signal.setitimer(signal.ITIMER_REAL, 0)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = {"exit": os.waitstatus_to_exitcode(pid_st[1]), "cpu_s": ru.ru_utime + ru.ru_stime,
                  "strays": len(_children()) if _reap() else 0}  # processes it left running
    except TimeoutError:
        result = {"timeout": True}
    except _Terminated:
        result = {"terminated": True}
    _emit(status, {"result": result})
    if not ns:
        _sweep(ids)
    os._exit(0)  # as pid 1: the kernel kills whatever is left in the namespace


def _launch() -> None:
    cfg = json.loads(sys.stdin.buffer.read())
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    libc = ctypes.CDLL(None, use_errno=True)
    root, ns, reason = os.geteuid() == 0, False, ""
    try:
        ids = (_pick_id("/proc/self/uid_map"), _pick_id("/proc/self/gid_map")) if root else None
        if cfg["isolation"] != "fallback":
            uid, gid = os.getuid(), os.getgid()
            if libc.unshare(_NS_FLAGS | (0 if root else _CLONE_NEWUSER)) == 0:
                ns = True
                if not root:  # identity map: caps inside, none after exec (uid != 0)
                    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                                       ("gid_map", f"{gid} {gid} 1")):
                        with open(f"/proc/self/{name}", "w") as f:
                            f.write(text)
            else:
                reason = "unshare: " + os.strerror(ctypes.get_errno())
                if cfg["isolation"] == "namespaces":
                    raise OSError(f"namespaces unavailable ({reason})")
    except OSError as e:
        _emit(cfg["status_fd"], {"error": f"sandbox setup failed: {e}"})
        os._exit(1)
    cfg["info"] = {
        "mode": ("namespaces" if root else "userns") if ns else "fallback",
        "network": "netns (loopback only)" if ns else "audit hook (best effort)",
        "filesystem": "mount ns + chroot to tmpfs" if ns else "audit hook (best effort)",
        "pid_namespace": ns, "uid": ids[0] if ids else os.getuid(), "fallback_reason": reason}
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)  # only now: it makes /proc/self/uid_map read-only
    alive_r, alive_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(alive_w)
        try:
            _init(cfg, libc, ns, ids, alive_r)
        except BaseException as e:  # noqa: BLE001
            _emit(cfg["status_fd"], {"error": f"sandbox init failed: {e!r}"})
        os._exit(1)
    os.waitpid(pid, 0)
    os._exit(0)


if __name__ == "__main__":  # launcher entry: keep above the parent-side imports (startup time)
    _launch()

# ----------------------------------------------------------------------------- parent side
import selectors  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from typing import Any, Literal, Sequence  # noqa: E402

Isolation = Literal["auto", "namespaces", "fallback"]
_GRACE_S = 5.0  # launcher start-up and clean-up on top of the program's own timeout


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 10.0  # wall clock, whole process tree
    cpu_s: int = 10  # per process, RLIMIT_CPU
    memory_mb: int = 512  # per process address space, RLIMIT_AS
    max_procs: int = 64  # processes + threads, RLIMIT_NPROC
    max_file_mb: int = 16  # per file, RLIMIT_FSIZE
    max_output_bytes: int = 1 << 20  # per stream; more gets the program killed
    max_open_files: int = 64  # RLIMIT_NOFILE
    max_disk_mb: int = 64  # size of the private /tmp (namespace modes only)

    def __post_init__(self):
        bad = [k for k, v in asdict(self).items() if not v > 0]
        if bad:
            raise ValueError(f"SandboxLimits must be positive: {bad}")


@dataclass
class SandboxResult:
    status: Literal["passed", "failed", "timeout", "killed", "error"]
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    reason: str = ""
    isolation: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _interpreters() -> list[str]:
    own = os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable)
    return list(dict.fromkeys([own, "/usr/bin/python3", "/usr/local/bin/python3"]))


def _collect(proc: subprocess.Popen, status_r: int, limits: SandboxLimits, deadline: float):
    bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray(),
            status_r: bytearray()}
    sel = selectors.DefaultSelector()
    for fd in bufs:
        sel.register(fd, selectors.EVENT_READ)
    overflow = finished = False
    while sel.get_map() and time.monotonic() < deadline and not overflow:
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            data = os.read(key.fd, 1 << 16)
            if not data:
                sel.unregister(key.fd)
                if key.fd == status_r:  # launcher and init are gone: drain briefly, no more
                    finished, deadline = True, min(deadline, time.monotonic() + 1.0)
                continue
            buf = bufs[key.fd]
            room = limits.max_output_bytes - len(buf) if key.fd != status_r else len(data)
            buf += data[:room]
            overflow = overflow or len(data) > room
    sel.close()
    return (bufs[proc.stdout.fileno()], bufs[proc.stderr.fileno()], bufs[status_r],
            overflow, finished)


def _stop(proc: subprocess.Popen, status_r: int) -> bytes:
    """Kill the launcher's process group; let init finish its sweep (fallback) for <= 2 s."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # proc not reaped yet, so its pgid is not reused
    except ProcessLookupError:
        pass
    proc.wait()
    tail, end = bytearray(), time.monotonic() + 2.0
    while time.monotonic() < end and select.select([status_r], [], [], end - time.monotonic())[0]:
        if not (chunk := os.read(status_r, 1 << 16)):
            break
        tail += chunk
    return bytes(tail)


def _classify(msgs: list[dict], overflow: bool, limits: SandboxLimits, rc: int | None):
    res = next((m["result"] for m in msgs if "result" in m), None)
    error = next((m["error"] for m in msgs if "error" in m), None)
    if overflow:
        return "killed", None, f"output exceeded {limits.max_output_bytes} bytes"
    if rc is None:  # we had to kill the launcher: its own timer did not fire in time
        return "timeout", None, "sandbox unresponsive, killed"
    if error:
        return "error", None, error
    if res is None:
        return "error", None, f"launcher exited with {rc} without a result"
    if res.get("timeout"):
        return "timeout", None, f"wall-clock limit {limits.timeout_s}s exceeded"
    if res.get("terminated"):
        return "killed", None, "program killed the sandbox supervisor"
    code = res["exit"]
    if code == 0 and res.get("strays"):  # background processes outlive a "passing" program
        return "killed", 0, f"left {res['strays']} background process(es) running; killed"
    if code == 0:
        return "passed", 0, ""
    if code > 0:
        return "failed", code, f"exit code {code}"
    sig = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
    if sig == "SIGXCPU" or (sig == "SIGKILL" and res.get("cpu_s", 0) >= limits.cpu_s):
        return "killed", code, f"cpu limit {limits.cpu_s}s exceeded"
    return "killed", code, f"killed by {sig}" + (" (file size limit)" if sig == "SIGXFSZ" else "")


def run_python(code: str, limits: SandboxLimits = SandboxLimits(),
               isolation: Isolation = "auto") -> SandboxResult:
    """Run ``code`` as ``main.py``; it passes iff it exits 0 within ``limits``."""
    if isolation not in ("auto", "namespaces", "fallback"):
        raise ValueError(f"unknown isolation {isolation!r}")
    workdir = tempfile.mkdtemp(prefix="compass-sandbox-")
    status_r, status_w = os.pipe()
    cfg = {"code": code, "limits": asdict(limits), "isolation": isolation, "workdir": workdir,
           "status_fd": status_w, "pythons": _interpreters(),
           "python_dirs": [os.path.realpath(sys.base_prefix)]}
    start = time.monotonic()
    proc = None
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", os.path.abspath(__file__)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={}, cwd="/",
            start_new_session=True, pass_fds=(status_w,))
        os.close(status_w)
        status_w = -1
        try:
            proc.stdin.write(json.dumps(cfg).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        out, err, raw, overflow, finished = _collect(proc, status_r, limits,
                                                     start + limits.timeout_s + _GRACE_S)
        try:  # EOF on the status pipe can precede the launcher becoming waitable
            rc = proc.wait(timeout=1.0) if finished else None
        except subprocess.TimeoutExpired:
            rc = None
        raw += _stop(proc, status_r)
        msgs = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        status, returncode, reason = _classify(msgs, overflow, limits, rc)
        return SandboxResult(
            status, returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
            round(time.monotonic() - start, 3), reason,
            next((m["isolation"] for m in msgs if "isolation" in m), {}))
    finally:
        if proc is not None and proc.returncode is None:
            _stop(proc, status_r)
        for fd in (status_r, status_w):
            if fd >= 0:
                os.close(fd)
        for stream in (proc.stdout, proc.stderr) if proc else ():
            stream.close()
        shutil.rmtree(workdir, ignore_errors=True)


def run_many(programs: Sequence[str], limits: SandboxLimits = SandboxLimits(),
             workers: int = 2, isolation: Isolation = "auto") -> list[SandboxResult]:
    """Run programs in parallel, each in its own sandbox; results keep the input order."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda c: run_python(c, limits, isolation), programs))


def isolation_report(isolation: Isolation = "auto") -> dict[str, Any]:
    """Which protections are active here, as measured by launching a trivial program."""
    probe = run_python("pass", SandboxLimits(timeout_s=20), isolation)
    return {**probe.isolation, "probe_status": probe.status, "probe_reason": probe.reason,
            "parent_euid": os.geteuid(), "env": "cleared: " + ", ".join([*_ENV, "HOME", "TMPDIR"]),
            "python_flags": "-I -S -B", "wall_timeout": "launcher group killed; pid ns torn down",
            "rlimits": ["CPU", "AS", "NPROC", "FSIZE", "NOFILE", "CORE"]}
