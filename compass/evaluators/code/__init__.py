"""Code evaluation: completions checked against tests in the sandbox (``check_completions``)."""
from compass.evaluators.code.check import (
    CheckSettings,
    CodeTask,
    Verdict,
    check_completions,
)

__all__ = ["CheckSettings", "CodeTask", "Verdict", "check_completions"]
