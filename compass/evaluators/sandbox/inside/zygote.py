"""The supervisor of one worker sandbox: set up once, then for each job fork fresh, confined
processes from this warm interpreter (no interpreter start-up per program), enforce the wall clock,
kill everything the job left, clean its scratch directory and report exit statuses.

It never reads a job's code, test, output or verdict: those travel on pipes between the evaluator
and the job's processes, handed over as descriptors. So nothing of one job (a test, an expected
value in a failure message) sits in this process's memory when it forks the next job's candidate.
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import time

from . import confine, landlock, scratch, seccomp, wire
from .cgroup import JobCgroup

DEVICE_RULES = (("/dev/null", landlock.READ_FILE | landlock.WRITE_FILE | landlock.TRUNCATE | landlock.IOCTL_DEV),
                ("/dev/zero", landlock.READ_FILE), ("/dev/full", landlock.READ_FILE | landlock.WRITE_FILE),
                ("/dev/random", landlock.READ_FILE), ("/dev/urandom", landlock.READ_FILE))
_PR_SET_CHILD_SUBREAPER = 36


class Zygote:
    def __init__(self, cfg: dict, ctrl: socket.socket, pid_namespace: bool):
        self.cfg, self.ctrl, self.limits = cfg, ctrl, cfg["limits"]
        self.pid_namespace = pid_namespace
        cg = cfg.get("cgroup")
        self.cgroup = JobCgroup(cg["fds"], cg["version"], cg["name"]) if cg else None
        self.scratch = cfg["scratch"]
        self.workdir = os.path.join(self.scratch, "job")
        self.root = os.geteuid() == 0 and cfg.get("uid_range") is not None
        contained = cfg["mode"] in ("namespaces", "bwrap")
        signals = self.root or contained or cfg["landlock_abi"] >= 6
        self.filters = None
        if cfg["seccomp"]:
            # Without a cgroup nothing bounds the total of several processes, or files on a RAM
            # disk: then the budget is one process and no new files (except on the capped tmpfs).
            budget = self.cgroup is not None
            self.filters = {"candidate": seccomp.build(processes=budget, create_files=budget or contained,
                                                       signals=signals),
                            "tester": seccomp.build(processes=False, create_files=False, signals=False)}
        self.rulesets = self._rulesets() if cfg["landlock_abi"] else None
        self.devnull = os.open("/dev/null", os.O_RDWR)
        self.job_pids: dict[str, int] = {}
        self.ended: dict[str, dict] = {}  # role -> exit status and CPU time, once reaped
        self.confined: dict[str, int] = {}  # role -> read end of its "confined" pipe
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the select below
        signal.set_wakeup_fd(wake_w)
        if not pid_namespace:  # orphans of a job are re-parented to us, not to the host's init
            confine.prctl(_PR_SET_CHILD_SUBREAPER, 1)

    def _rulesets(self) -> dict:
        cfg, abi = self.cfg, self.cfg["landlock_abi"]
        out = {}
        for role in ("candidate", "tester"):
            rules = landlock.Ruleset(abi)
            for path in cfg["readable"]:
                rules.allow_except(path, tuple(cfg["hidden"]), landlock.READ)
            for path, access in DEVICE_RULES:
                if os.path.exists(path):
                    rules.allow(path, access)
            if role == "candidate":
                rules.allow(self.scratch, rules.all_fs)
            out[role] = rules
        return out

    # ------------------------------------------------------------------ one job
    def run(self, job: dict, fds: list[int]) -> dict:
        start = time.monotonic()
        check = job["kind"] == "check"
        ids = self._pick_ids(2)
        self._clear_scratch()
        os.mkdir(self.workdir, 0o700)
        if ids:
            os.chown(self.workdir, *ids[0])
        c_in, c_out, c_err = fds[:3]
        pipes = []
        if check:
            to_tester, to_candidate = os.pipe(), os.pipe()
            pipes = [*to_tester, *to_candidate]
            c_layout = [self.devnull, c_out, c_err, to_candidate[0], to_tester[1], self.devnull]
            t_in, t_verdict = fds[3:5]
            t_layout = [self.devnull, self.devnull, self.devnull, to_tester[0], to_candidate[1], t_verdict]
        else:
            c_layout = [self.devnull, c_out, c_err, self.devnull, self.devnull, self.devnull]
        self.ended = {}
        self.job_pids = {"candidate": self._spawn("candidate", c_layout, c_in, ids[0] if ids else None)}
        if check:
            self.job_pids["tester"] = self._spawn("tester", t_layout, t_in, ids[1] if ids else None)
        for fd in (*fds, *pipes):
            os.close(fd)
        oom_before = self.cgroup.oom_kills() if self.cgroup else 0
        report = self._wait(start + self.limits["timeout_s"], "tester" if check else "candidate")
        report["strays"] = len(self.cgroup.pids() if self.cgroup else self._members()) \
            if not report["timeout"] and not check else 0
        if not self._kill_job():  # also reaps: a process that was already exiting keeps its own status
            raise RuntimeError("a process of the job survived SIGKILL")  # never clean up around it
        report.update(self.ended)
        for role, fd in self.confined.items():
            if role in report:
                report[role]["confined"] = os.read(fd, 1) == b"1"  # every writer is dead: no blocking
            os.close(fd)
        self.confined = {}
        report["oom_kills"] = (self.cgroup.oom_kills() - oom_before) if self.cgroup else 0
        self._clear_scratch()
        report["duration_s"] = round(time.monotonic() - start, 4)
        report["uids"] = [i[0] for i in ids] if ids else []
        return report

    def _pick_ids(self, n: int) -> list[tuple[int, int]] | None:
        """Fresh throw-away uids/gids for the job's processes (root only): per-uid limits and
        kill(-1) become per-process, and they cannot signal or read each other or the host."""
        if not self.root:
            return None
        lo, hi = self.cfg["uid_range"]
        picked: list[tuple[int, int]] = []
        while len(picked) < n:
            uid = lo + int.from_bytes(os.urandom(4), "big") % (hi - lo)
            if all(uid != p[0] for p in picked):
                picked.append((uid, uid))
        return picked

    def _spawn(self, role: str, layout: list[int], in_fd: int, ids: tuple[int, int] | None) -> int:
        confined_r, confined_w = os.pipe()  # one byte once confined: a setup failure cannot be faked later
        pid = os.fork()
        if pid:
            os.close(confined_w)
            self.confined[role] = confined_r
            return pid
        try:
            self._become(role, [*layout, in_fd, confined_w], ids)
        except BaseException as exc:  # the setup failed: say so on stderr, die
            try:
                os.write(2, f"sandbox setup of the {role} failed: {exc!r}\n".encode())
            finally:
                os._exit(125)
        os._exit(0)

    def _become(self, role: str, fds: list[int], ids: tuple[int, int] | None) -> None:
        zygote, cfg, lim = os.getppid(), self.cfg, self.limits
        confine.start_session()
        if role == "candidate" and self.cgroup:
            self.cgroup.join()
        ruleset = self.rulesets[role].fd if self.rulesets else self.devnull
        confine.arrange_fds([*fds, ruleset])  # 0-5 as laid out, 6: input, 7: confined, 8: ruleset
        message = wire.recv(6)
        os.close(6)
        os.chdir(self.workdir if role == "candidate" else "/")
        tester = role == "tester"
        confine.set_limits(cpu_s=lim["cpu_s"], memory_mb=lim["memory_mb"], file_mb=1 if tester else lim["max_file_mb"],
                           open_files=lim["max_open_files"],
                           procs=lim["max_procs"] if self.root and not tester else None)
        confine.drop_privileges(ids)
        confine.non_dumpable()
        confine.prctl(1, signal.SIGKILL)  # parent-death signal: a uid change cleared it
        if os.getppid() != zygote:
            os._exit(1)
        if self.rulesets:
            landlock.restrict(8)
        os.close(8)
        if self.filters:
            seccomp.install(self.filters[role])
        if cfg["mode"] == "best_effort" and not tester:
            from . import audit

            audit.install(self.workdir, tuple(cfg["readable"]))
        confine.reset_environment(self.workdir)
        os.write(7, b"1")
        os.close(7)
        if tester:
            from . import tester as tester_main

            tester_main.main(*message[1:4])
        elif message[0] == "check":
            from . import candidate

            candidate.main(*message[1:3])
        else:
            from . import program

            program.main(message[1])

    def _wait(self, deadline: float, last: str) -> dict:
        """Until ``last`` exits, the deadline passes or the evaluator asks for a kill."""
        timeout = killed = False
        while last not in self.ended:
            self._reap()
            if last in self.ended:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                timeout = True
                break
            ready = select.select([self.wake_r, self.ctrl.fileno()], [], [], left)[0]
            if self.wake_r in ready:
                os.read(self.wake_r, 4096)
            if self.ctrl.fileno() in ready:
                killed = True  # the evaluator's only mid-job message: kill (output over the cap)
                self.ctrl.recv(4096)
                break
        self._reap()
        return {"timeout": timeout, "killed": killed}

    def _reap(self) -> None:
        """Collect every exited child (orphans of the job too); note the job's own processes."""
        roles = {pid: role for role, pid in self.job_pids.items()}
        while True:
            try:
                pid, code, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in roles:
                self.ended[roles[pid]] = {"exit": os.waitstatus_to_exitcode(code),
                                          "cpu_s": round(usage.ru_utime + usage.ru_stime, 4)}

    def _members(self) -> list[int]:
        """Processes of the job still alive (the supervisor itself and the namespace's init aside),
        outside a cgroup (whose members ``JobCgroup`` kills itself, by pidfd)."""
        if self.cgroup:
            return []
        if self.pid_namespace and os.path.isdir("/proc/self"):
            me = os.getpid()
            return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (me, 1)]
        self._reap()
        return [pid for role, pid in self.job_pids.items() if role not in self.ended]

    def _kill_job(self) -> bool:
        self._reap()
        for role, pid in self.job_pids.items():
            if role not in self.ended:  # an unreaped child: its pid cannot be anyone else's yet
                _kill(pid)
        if self.cgroup:
            self.cgroup.kill_all()
        for _ in range(5000):  # no cgroup: forks were refused; a pid namespace: sweep it anyway
            members = self._members()
            if not members:
                break
            for pid in members:
                _kill(pid)
            time.sleep(0.001)
        end = time.monotonic() + 5.0
        while any(role not in self.ended for role in self.job_pids) and time.monotonic() < end:
            time.sleep(0.0005)
            self._reap()
        self._reap()
        gone = all(role in self.ended for role in self.job_pids) and not self._members()
        self.job_pids = {}
        return gone and (self.cgroup is None or not self.cgroup.pids())

    def _clear_scratch(self) -> None:
        scratch.clear(self.scratch)
        os.chdir("/")

    # ------------------------------------------------------------------ the loop
    def serve(self) -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.ctrl, 1 << 16, 8)
            except OSError:
                return
            if not data:
                return
            if data == b"kill":  # a kill request that came after its job had ended
                continue
            job = json.loads(data)
            if job.get("kind") == "stop":
                return
            report = self.run(job, fds)
            self.ctrl.send(json.dumps({"id": job["id"], **report}).encode())


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
