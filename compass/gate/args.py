"""The arguments of `compass gate`, apart from the statistics so that building the parser stays cheap
(no numpy or scipy at `compass --help`)."""
from __future__ import annotations

import argparse
from pathlib import Path

_RUN_HELP = "{} run directory (or its scored/, predictions/ or results/ directory, or one model's directory in it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", required=True, type=Path, metavar="RUN", help=_RUN_HELP.format("baseline"))
    parser.add_argument("--candidate", required=True, type=Path, metavar="RUN", help=_RUN_HELP.format("candidate"))
    parser.add_argument("--model", help="model abbr to compare when a run holds several")
    parser.add_argument("--baseline-model", help="model abbr of the baseline run (overrides --model)")
    parser.add_argument("--candidate-model", help="model abbr of the candidate run (overrides --model)")
    parser.add_argument("--max-drop", type=float, default=1.0, metavar="POINTS",
                        help="tolerated drop in percentage points (default 1.0)")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="family-wise false-alarm rate across datasets (default 0.05)")
    parser.add_argument("--strict", action="store_true", help="treat inconclusive datasets as failures")
    parser.add_argument("--allow-prompt-change", action="store_true",
                        help="compare datasets whose prompt hashes differ (refused by default: the runs asked "
                             "different prompts)")
    parser.add_argument("--clean-only", action="store_true",
                        help="compare only the samples labelled clean by `compass contamination` (labels from "
                             "--contamination, else <candidate run>/../contamination/)")
    parser.add_argument("--contamination", type=Path, metavar="DIR",
                        help="the labels directory for --clean-only (`compass contamination -o DIR`)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the full report as JSON")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="write a Markdown table (CI job summary)")
    parser.add_argument("--junit", type=Path, metavar="PATH", help="write JUnit XML, one testcase per dataset")
    parser.add_argument("--seed", type=int, default=0, help="seed for bootstrap and permutations (default 0)")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for the CI (default 2000)")
    parser.add_argument("--n-perm", type=int, default=10_000,
                        help="random sign flips for graded or clustered tests (default 10000)")
