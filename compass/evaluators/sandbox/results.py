"""What a job's raw outcome means: the status and a one-line reason."""
from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any, Literal

from compass.evaluators.sandbox.limits import SandboxLimits
from compass.evaluators.sandbox.worker import Raw

Status = Literal["passed", "failed", "timeout", "killed", "error"]
SETUP_FAILED = 125  # exit code of a job process whose confinement could not be set up


@dataclass
class SandboxResult:
    """A whole program's result (``run_python``): it passed iff it exited 0 within its limits and
    left nothing running."""

    status: Status
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    reason: str = ""
    isolation: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class CheckResult:
    """A completion checked against a test: passed iff the tester's ``check`` returned."""

    status: Status
    reason: str
    stdout: str  # the candidate's output (diagnostics only: it never decides anything)
    stderr: str
    duration_s: float
    isolation: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _isolation(raw: Raw) -> dict[str, Any]:
    """The worker's protections, plus the uid this job's program ran as (root modes)."""
    uids = (raw.report or {}).get("uids") or []
    return {**raw.isolation, "uid": uids[0] if uids else None}


def _signal_reason(code: int, cpu_s: float, oom_kills: int, limits: SandboxLimits, who: str) -> tuple[Status, str]:
    sig = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
    if oom_kills:
        return "killed", f"memory limit {limits.memory_mb} MB exceeded ({who})"
    if sig == "SIGXCPU" or (sig == "SIGKILL" and cpu_s >= limits.cpu_s):
        return "killed", f"cpu limit {limits.cpu_s}s exceeded ({who})"
    return "killed", f"killed by {sig}" + (" (file size limit)" if sig == "SIGXFSZ" else "") + f" ({who})"


def _common(raw: Raw, limits: SandboxLimits) -> tuple[Status, str] | None:
    if raw.overflow:
        return "killed", f"output exceeded {limits.max_output_bytes} bytes"
    if raw.report is None:
        return "timeout", "sandbox unresponsive, killed"
    if raw.report.get("timeout"):
        return "timeout", f"wall-clock limit {limits.timeout_s}s exceeded"
    return None


def _setup_error(raw: Raw, role: str) -> str | None:
    """Why the sandbox could not confine ``role``'s process, if it could not (the supervisor's
    word, from a pipe the process writes once confined: no program can fake this)."""
    end = (raw.report or {}).get(role) or {}
    if end.get("confined") is False and end.get("exit") == SETUP_FAILED:
        lines = raw.stderr.decode(errors="replace").strip().splitlines() if role == "candidate" else []
        return (lines[-1] if lines else f"sandbox setup of the {role} failed")[:300]
    return None


def classify_program(raw: Raw, limits: SandboxLimits) -> SandboxResult:
    status: Status
    returncode: int | None = None
    common = _common(raw, limits)
    report = raw.report or {}
    end = report.get("candidate") or {}
    if common:
        status, reason = common
    elif _setup_error(raw, "candidate"):
        status, reason = "error", _setup_error(raw, "candidate") or ""
    elif "exit" not in end:
        status, reason = "error", "the program's process was not reaped"
    else:
        returncode = end["exit"]
        if returncode == 0 and report.get("strays"):
            status, reason = "killed", f"left {report['strays']} background process(es) running; killed"
        elif returncode == 0:
            status, reason = "passed", ""
        elif returncode > 0:
            status, reason = "failed", f"exit code {returncode}"
        else:
            status, reason = _signal_reason(returncode, end.get("cpu_s", 0), report.get("oom_kills", 0), limits,
                                            "program")
    return SandboxResult(status, returncode, raw.stdout.decode("utf-8", "replace"),
                         raw.stderr.decode("utf-8", "replace"), report.get("duration_s", 0.0), reason,
                         _isolation(raw))


def _candidate_end(report: dict, limits: SandboxLimits) -> str:
    end = report.get("candidate") or {}
    code = end.get("exit")
    if code is None:
        return "still running"
    if code >= 0:
        return f"exited with status {code}"
    return _signal_reason(code, end.get("cpu_s", 0), report.get("oom_kills", 0), limits, "candidate")[1]


def classify_check(raw: Raw, limits: SandboxLimits) -> CheckResult:
    status: Status
    report = raw.report or {}
    verdict = raw.verdict if raw.verdict is not None and len(raw.verdict) == 4 else ["", False, "", ""]
    well_formed = verdict[0] == "verdict"
    common = _common(raw, limits)
    if well_formed and verdict[1] is True:  # the tester's word; nothing the candidate does reaches it
        status, reason = "passed", ""
    elif common:
        status, reason = common
    elif _setup_error(raw, "candidate") or _setup_error(raw, "tester"):
        status, reason = "error", _setup_error(raw, "candidate") or _setup_error(raw, "tester") or ""
    elif well_formed and verdict[2] == "setup":
        status, reason = "error", f"the task's prompt or test raised: {verdict[3]}"
    elif well_formed and verdict[2] == "channel":
        status, reason = "error", str(verdict[3])
    elif well_formed:
        status, reason = "failed", str(verdict[3])
        if reason.startswith("CandidateGone"):
            reason = f"{reason} ({_candidate_end(report, limits)})"
    else:
        end = report.get("tester") or {}
        code = end.get("exit")
        if code is not None and code < 0:
            status, reason = _signal_reason(code, end.get("cpu_s", 0), 0, limits, "tester")
        else:
            status, reason = "error", f"the tester ended without a verdict (exit {code})"
    return CheckResult(status, reason, raw.stdout.decode("utf-8", "replace"), raw.stderr.decode("utf-8", "replace"),
                       report.get("duration_s", 0.0), _isolation(raw))
