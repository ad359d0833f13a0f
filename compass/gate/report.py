"""The values a gate comparison produces: per dataset, and for the whole comparison (what every
renderer reads). Scores, deltas, intervals and MDDs are fractions in [0, 1]."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["binary", "continuous"]  # outcomes are `correct` (true/false) or `score` (in [0, 1])
Verdict = Literal["pass", "regression", "inconclusive"]

POWER = 0.8  # power at which the minimum detectable drop is quoted
CI_LEVEL = 0.95
EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Side:
    path: str  # as given by the user
    scored_dir: str  # the resolved scored/<model> directory
    model: str  # the model abbr


@dataclass(frozen=True)
class GateSettings:
    max_drop_points: float
    alpha: float
    strict: bool
    seed: int
    n_boot: int
    n_perm: int
    power: float = POWER
    ci_level: float = CI_LEVEL


@dataclass
class DatasetResult:
    """One dataset's comparison."""

    dataset: str
    kind: Kind
    evaluator: str
    n: int
    n_clusters: int | None  # declared clusters (the `cluster` key); None when no sample declares one
    unit: Literal["sample", "cluster"]  # what the test treated as independent
    fallback: str | None  # why declared clusters were not used (too few for any verdict), else None
    baseline: float
    candidate: float
    delta: float  # candidate - baseline
    ci95: tuple[float, float]
    ci_method: str
    test: str
    p_value: float  # regression test, H0: delta >= -max_drop
    p_holm: float
    p_noninferiority: float  # mirror test, H0: delta <= -max_drop (informational)
    mdd: float | None  # minimum detectable drop at POWER; None: no drop is detectable
    verdict: Verdict
    reason: str
    losses: int | None = None  # binary per-sample test only: baseline right, candidate wrong
    wins: int | None = None  # binary per-sample test only: baseline wrong, candidate right
    prompt_note: str | None = None  # how the two runs' prompts differ, when --allow-prompt-change let them through
    truncated: tuple[float, float] | None = None  # share of completions cut at max_out_len: baseline, candidate
    truncation_note: str | None = None  # set when the two shares clearly differ
    not_clean: int | None = None  # --clean-only: samples left out as partial, contaminated or unlabelled


@dataclass
class GateReport:
    baseline: Side
    candidate: Side
    settings: GateSettings
    datasets: list[DatasetResult]
    only_in_baseline: list[str] = field(default_factory=list)
    only_in_candidate: list[str] = field(default_factory=list)
    prompts_unchecked: list[str] = field(default_factory=list)  # compared datasets a result lacks a prompt hash for
    verdict: Verdict = "pass"
    exit_code: int = EXIT_PASS
    clean_only: str | None = None  # --clean-only: the contamination labels directory read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
