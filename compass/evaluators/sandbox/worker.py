"""One worker sandbox, seen from the evaluator: start its supervisor in a mode, hand it jobs, and
move each job's data over pipes the job's processes hold directly (code in; output and the
tester's verdict out), so the supervisor never holds any of it."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field

from compass.evaluators.sandbox import cgroups, modes
from compass.evaluators.sandbox.inside import landlock, seccomp
from compass.evaluators.sandbox.inside.nsroot import RO_PATHS
from compass.evaluators.sandbox.limits import SandboxLimits

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60.0  # a supervisor's start-up, on a loaded machine
GRACE_S = 10.0  # beyond a job's own timeout before the evaluator kills the whole worker
CLOSE_TIMEOUT_S = 2.0  # for a supervisor to leave when told to, before it is killed


@dataclass(frozen=True)
class Program:
    """A whole program; its exit status is its result."""

    code: str


@dataclass(frozen=True)
class Check:
    """A completion against a test: ``code`` (prompt and completion) runs in one process, ``setup``
    (the prompt, for its helpers) and ``test`` in another, which calls ``entry`` through the channel."""

    code: str
    entry: str
    setup: str
    test: str


@dataclass
class Raw:
    """What came back from one job, unclassified."""

    stdout: bytes = b""
    stderr: bytes = b""
    verdict: list | None = None  # the tester's message, for checks
    report: dict | None = None  # the supervisor's: exit statuses, timeout, oom kills, strays
    overflow: bool = False
    isolation: dict = field(default_factory=dict)


class Worker:
    def __init__(self, mode: str, limits: SandboxLimits, use_cgroup: bool = True):
        self.mode, self.limits = mode, limits
        self.proc: subprocess.Popen | None = None
        self.ctrl: socket.socket | None = None
        self.cgroup: cgroups.WorkerCgroup | None = None
        self.scratch: str | None = None
        self.isolation: dict = {}
        self._use_cgroup = use_cgroup
        self._jobs = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the supervisor; raises SandboxUnavailable with the reason if this mode cannot run."""
        refusal = modes.static_refusal(self.mode)
        if refusal:
            raise modes.SandboxUnavailable(f"{self.mode}: {refusal}")
        root = os.geteuid() == 0
        plan = cgroups.discover() if self._use_cgroup else None
        if plan:
            try:
                self.cgroup = cgroups.WorkerCgroup(plan, self.limits.memory_mb, self.limits.max_procs)
            except OSError as exc:
                log.warning("sandbox: no cgroup (%s); falling back to a one-process budget", exc)
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cg_fds = self.cgroup.open_fds() if self.cgroup else []
        exposed = [p for p in (*RO_PATHS, *modes.python_dirs()) if os.path.lexists(p)]
        if self.mode in ("landlock", "best_effort"):
            self.scratch = tempfile.mkdtemp(prefix=f"{cgroups.PREFIX}{os.getpid()}-", dir=modes.scratch_base())
            os.chmod(self.scratch, 0o711)
        cfg = {"mode": self.mode, "ctrl_fd": child_end.fileno(), "limits": asdict(self.limits),
               "cgroup": {"version": self.cgroup.plan.version, "fds": cg_fds, "name": self.cgroup.name}
               if self.cgroup else None,
               "scratch": self.scratch, "uid_range": modes.uid_range(self.mode), "landlock_abi": landlock.abi(),
               "seccomp": seccomp.available(), "readable": exposed, "hidden": modes.hidden_dirs(exposed),
               "python_dirs": modes.python_dirs(), "mountpoint": tempfile.gettempdir(),
               "preimport": modes.PREIMPORT}
        launcher = modes.LAUNCHER
        command = [modes.interpreter(), "-I", "-S", "-B"]
        if self.mode == "bwrap":
            command = modes.bwrap_args(self.limits.max_disk_mb, root) + command
            launcher = "/compass-sandbox/inside/main.py"
        try:
            self.proc = subprocess.Popen([*command, launcher], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, env={}, cwd="/", start_new_session=True,
                                         pass_fds=(child_end.fileno(), *cg_fds))
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(cfg).encode())
            self.proc.stdin.close()
        except OSError as exc:
            self.close()
            raise modes.SandboxUnavailable(f"{self.mode}: cannot start ({exc})") from None
        finally:
            child_end.close()
            for fd in cg_fds:
                os.close(fd)
        self.ctrl = parent_end
        self._await_ready(cfg)

    def _await_ready(self, cfg: dict) -> None:
        assert self.ctrl is not None and self.proc is not None
        self.ctrl.settimeout(START_TIMEOUT_S)
        try:
            data = self.ctrl.recv(1 << 16)
        except (OSError, TimeoutError):
            data = b""
        self.ctrl.settimeout(None)
        message: dict = json.loads(data) if data else {"error": f"exited with {self.proc.poll()} during set-up"}
        if "ready" not in message:
            self.close()
            raise modes.SandboxUnavailable(f"{self.mode}: {message.get('error')}")
        ready, root = message["ready"], cfg["uid_range"] is not None
        name = "userns" if self.mode == "namespaces" and os.geteuid() != 0 else self.mode
        self.isolation = {
            "mode": name, "boundary": self.mode != "best_effort",
            "namespaces": self.mode in ("namespaces", "bwrap"), "proc": ready["proc"],
            "landlock_abi": cfg["landlock_abi"], "seccomp": cfg["seccomp"],
            "cgroup": f"v{self.cgroup.plan.version}" if self.cgroup else None,
            "budget": "cgroup: memory and processes in total" if self.cgroup
            else "no cgroup: one process, memory_mb address space, no new files outside a capped tmpfs",
            "throwaway_uids": root, "scratch": self.scratch}

    def close(self) -> None:
        if self.ctrl is not None:
            self.ctrl.close()  # the supervisor's cue to leave: it kills its job and exits
            self.ctrl = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=CLOSE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left of the worker's session
            self.proc.wait()
            self.proc = None
        if self.cgroup is not None:
            self.cgroup.destroy()
            self.cgroup = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ------------------------------------------------------------------ one job
    def run(self, job: Program | Check) -> Raw:
        """Run one job. A worker whose supervisor stopped answering is closed (``alive`` False)."""
        assert self.ctrl is not None
        self._jobs += 1
        check = isinstance(job, Check)
        pipes = {name: os.pipe() for name in ("c_in", "c_out", "c_err", *(("t_in", "t_res") if check else ()))}
        header = json.dumps({"kind": "check" if check else "program", "id": self._jobs}).encode()
        theirs = [pipes["c_in"][0], pipes["c_out"][1], pipes["c_err"][1]]
        if check:
            theirs += [pipes["t_in"][0], pipes["t_res"][1]]
        raw = Raw(isolation=self.isolation)
        try:
            socket.send_fds(self.ctrl, [header], theirs)
        except OSError:
            for pair in pipes.values():
                for fd in pair:
                    os.close(fd)
            self.close()
            raise
        for fd in theirs:
            os.close(fd)
        if isinstance(job, Check):
            outgoing = {pipes["c_in"][1]: _frame(["check", job.code, job.entry]),
                        pipes["t_in"][1]: _frame(["test", job.setup, job.test, job.entry])}
        else:
            outgoing = {pipes["c_in"][1]: _frame(["program", job.code])}
        incoming = {pipes["c_out"][0]: "stdout", pipes["c_err"][0]: "stderr"}
        if check:
            incoming[pipes["t_res"][0]] = "verdict"
        try:
            self._exchange(raw, outgoing, incoming)
        finally:
            for fd in (*outgoing, *incoming):
                _close(fd)
        return raw

    def _exchange(self, raw: Raw, outgoing: dict[int, bytes], incoming: dict[int, str]) -> None:
        assert self.ctrl is not None
        sel = selectors.DefaultSelector()
        for fd in outgoing:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_WRITE)
        for fd in incoming:
            sel.register(fd, selectors.EVENT_READ)
        sel.register(self.ctrl, selectors.EVENT_READ)
        buffers = {"stdout": bytearray(), "stderr": bytearray(), "verdict": bytearray()}
        deadline = time.monotonic() + self.limits.timeout_s + GRACE_S
        cap = self.limits.max_output_bytes
        try:
            while sel.get_map() and time.monotonic() < deadline:
                for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
                    fd = key.fd if key.fileobj is not self.ctrl else -1
                    if fd == -1:
                        data = self.ctrl.recv(1 << 16)
                        sel.unregister(self.ctrl)
                        raw.report = json.loads(data) if data else None
                        # every process of the job is dead now: drain the pipes briefly, no more
                        deadline = min(deadline, time.monotonic() + 1.0) if data else time.monotonic()
                    elif fd in outgoing:
                        try:
                            sent = os.write(fd, outgoing[fd])
                        except (BrokenPipeError, OSError):
                            sent = len(outgoing[fd])
                        outgoing[fd] = outgoing[fd][sent:]
                        if not outgoing[fd]:
                            sel.unregister(fd)  # closed by run(), once: fd numbers are shared by threads
                    else:
                        chunk = os.read(fd, 1 << 16)
                        name = incoming[fd]
                        if not chunk:
                            sel.unregister(fd)
                            continue
                        buffers[name] += chunk
                        if name != "verdict" and len(buffers[name]) > cap and not raw.overflow:
                            raw.overflow = True
                            self.ctrl.send(b"kill")  # the supervisor kills the job, then reports
        finally:
            sel.close()
        raw.stdout, raw.stderr = bytes(buffers["stdout"][:cap]), bytes(buffers["stderr"][:cap])
        raw.verdict = _unframe(bytes(buffers["verdict"]))
        if raw.report is None:  # the supervisor missed its deadline or died: this worker is done
            log.warning("sandbox worker (%s) stopped answering; replacing it", self.mode)
            self.close()


def _frame(message: list) -> bytes:
    data = json.dumps(message).encode()
    return len(data).to_bytes(4, "big") + data


def _unframe(data: bytes) -> list | None:
    if len(data) < 4 or int.from_bytes(data[:4], "big") != len(data) - 4:
        return None
    try:
        message = json.loads(data[4:])
    except ValueError:
        return None
    return message if isinstance(message, list) else None


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
