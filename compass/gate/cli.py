"""`compass gate` on the command line: compare, write the report files, print the table, exit
0 pass, 1 regression (or inconclusive under --strict), 2 usage or data error (one line on stderr)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compass.errors import CompassError
from compass.gate import args as gate_args
from compass.gate.analyse import compare
from compass.gate.render import render_json, render_junit, render_markdown, render_text
from compass.gate.report import EXIT_ERROR
from compass.store import write_text_atomic


def run(args: argparse.Namespace) -> int:
    """Execute a parsed `compass gate` command; returns the exit code."""
    try:
        report = compare(
            args.baseline, args.candidate, max_drop=args.max_drop, alpha=args.alpha, strict=args.strict,
            model=args.model, baseline_model=args.baseline_model, candidate_model=args.candidate_model,
            seed=args.seed, n_boot=args.n_boot, n_perm=args.n_perm, allow_prompt_change=args.allow_prompt_change,
            clean_only=args.clean_only, contamination=args.contamination)
        for path, render in ((args.json, render_json), (args.markdown, render_markdown), (args.junit, render_junit)):
            if path is not None:
                _write(path, render(report))
    except CompassError as exc:
        print(f"compass gate: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(render_text(report))
    return report.exit_code


def _write(path: Path, text: str) -> None:
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise CompassError(f"cannot write {path}: {exc.strerror or exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="compass gate", description="Paired regression gate between two evaluated runs (see docs/gate.md).")
    gate_args.add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help exits 0, usage errors 2
        return int(exc.code or 0)
    return run(args)
