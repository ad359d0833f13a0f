"""Run untrusted (model-written) Python in isolated processes. See docs/sandbox.md.

``run_python``/``run_many`` run whole programs (the exit status is the result); ``SandboxPool``
also checks completions against tests (``run_checks``): the test runs in a separate process from
the completion and calls it through a plain-data channel, so the verdict cannot be forged.
The code that runs inside the sandbox lives in ``inside/`` (standard library only).
"""
from compass.evaluators.sandbox.limits import (
           SandboxLimits,
           default_memory_mb,
           default_workers,
)
from compass.evaluators.sandbox.modes import OPT_IN, Isolation, SandboxUnavailable
from compass.evaluators.sandbox.pool import (
           SandboxPool,
           isolation_report,
           run_many,
           run_python,
)
from compass.evaluators.sandbox.results import CheckResult, SandboxResult
from compass.evaluators.sandbox.worker import Check

__all__ = ["OPT_IN", "Check", "CheckResult", "Isolation", "SandboxLimits", "SandboxPool", "SandboxResult",
           "SandboxUnavailable", "default_memory_mb", "default_workers", "isolation_report", "run_many",
           "run_python"]
