"""``compass``: the command line. Thin: it parses arguments and calls the pipeline."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from compass import __version__
from compass.errors import CompassError

RUN_HELP = """\
Evaluate every model of CONFIG on every dataset of CONFIG.

The run goes config -> plan -> inference -> evaluation -> summary, writing everything to
WORK_DIR/<config-name>/<timestamp>/ (predictions/, results/, summary/, logs/). Inference
workers run as subprocesses, each loading its model once for all of its datasets.

examples:
  compass run examples/eval_demo.py               run the demo, print the leaderboard
  compass run examples/eval_demo.py --dry-run     check the config, show the planned tasks
  compass run examples/eval_demo.py -r            resume the latest run: finished samples are
                                                  never recomputed; a changed evaluator or
                                                  summarizer re-scores with no model call
  compass run examples/eval_demo.py -r 20261123_101500   resume that run
  compass run examples/eval_demo.py --cfg-options models.0.batch_size=1 datasets.0.reader_cfg.test_range=[0:20]
                                                  the same config with some values changed
  compass run --models reference_demo --datasets mmlu_mini_ppl gsm8k_mini_gen
                                                  quick mode: configs by name (`compass list`),
                                                  no config file to write

exit codes: 0 success, 1 a task failed after its retries, 2 bad config, data or arguments,
3 stopped at the --max-cost limit (resume with -r and a higher limit).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="compass", description="Evaluate LLMs: reproducible scores with CIs.")
    parser.add_argument("--version", action="version", version=f"compass {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run an evaluation config", description=RUN_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("config", nargs="?", help="a Python config file (see docs/config.md); or none, with "
                     "--models and --datasets")
    run.add_argument("--models", "--model-path", nargs="+", metavar="MODEL",
                     help="quick mode: model config names from models_cfg/ (see `compass list`), config files, or "
                     "local Hugging Face model directories")
    run.add_argument("--datasets", nargs="+", metavar="DATASET", help="quick mode: dataset config names from "
                     "datasets_cfg/ (e.g. gsm8k_mini_gen) or config files; the run goes to WORK_DIR/quick/")
    run.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                     help="override config values: models.0.batch_size=1 datasets.0.reader_cfg.test_range=[0:10] "
                     "(dotted keys, list indexes; values read as Python literals, else strings); give them again "
                     "when resuming")
    run.add_argument("-r", "--reuse", nargs="?", const="latest", default=None, metavar="TIMESTAMP",
                     help="resume the latest run of this config, or the one at TIMESTAMP")
    run.add_argument("--dry-run", action="store_true", help="validate the config and print the planned tasks; "
                     "load no model and no data")
    run.add_argument("-w", "--work-dir", help="where runs are written (default: the config's work_dir or outputs/)")
    run.add_argument("--max-workers", type=int, help="parallel worker processes (default: infer.runner.max_num_workers)")
    run.add_argument("--retry", type=int, help="extra attempts for a failed task (default: infer.runner.retry)")
    run.add_argument("-m", "--mode", choices=["all", "infer", "eval", "summarize"], default="all",
                     help="run only up to / only this stage (default: all)")
    run.add_argument("--max-cost", type=float, metavar="DOLLARS", help="stop inference cleanly once the run has "
                     "spent this much on models with price_per_mtok (API models); -r with a higher limit goes on")
    run.add_argument("--contamination", metavar="DIR", help="labels written by `compass contamination`: the "
                     "summaries split each dataset's score into clean and contaminated samples (default: the config's "
                     "contamination key, else WORK_DIR/<config name>/contamination/ when it exists)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars or worker messages; print only "
                     "the leaderboard and errors")
    run.add_argument("--debug", action="store_true", help="show full tracebacks")

    lst = sub.add_parser("list", help="list the dataset and model configs shipped in this checkout")
    lst.add_argument("--root", default=".", help="directory holding datasets_cfg/ and models_cfg/")
    lst.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    report = sub.add_parser("report", help="rewrite summaries from result files; merge several runs",
                            description="Regenerate a run's summaries from its result files with no model call. "
                                        "Several run directories merge into one leaderboard (needs --out).")
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (outputs/<config>/<timestamp>)")
    report.add_argument("--format", default="txt,csv,md,html",
                        help="comma-separated formats among txt, csv, md, html (default: all)")
    report.add_argument("-o", "--out", help="directory for the summaries (default: the run's summary/)")
    report.add_argument("--contamination", metavar="DIR", help="labels written by `compass contamination` "
                        "(default: the run config's contamination key, else <run>/../contamination/ when it exists)")
    report.add_argument("--debug", action="store_true", help="show full tracebacks")

    from compass.gate import args as gate_args

    gate_parser = sub.add_parser(
        "gate", help="compare a candidate run with a baseline, per sample; exit 1 on a real regression",
        description="Paired per-sample comparison of two runs with significance tests (docs/gate.md). "
                    "Exit codes: 0 pass, 1 regression (or inconclusive with --strict), 2 usage or data error.")
    gate_args.add_arguments(gate_parser)

    from compass.contamination import cli as contamination_cli

    contamination = sub.add_parser("contamination", help="how much of each dataset a corpus contains, per sample",
                                   description=contamination_cli.DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    contamination_cli.add_arguments(contamination)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except CompassError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"compass: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("compass: interrupted; resume with -r", file=sys.stderr)
        return 130


def _config_file(args: argparse.Namespace) -> str:
    """The config file to run: the one given, or the quick mode's, written from --models and --datasets."""
    quick = args.models or args.datasets
    if args.config and quick:
        raise CompassError("run: give a config file or --models/--datasets, not both")
    if args.config:
        return str(args.config)
    if not (args.models and args.datasets):
        raise CompassError("run: a config file is needed (or quick mode: --models ... --datasets ...)")
    from compass.config.overrides import quick_config

    return str(quick_config(args.models, args.datasets, Path.cwd()))


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        from compass.pipeline import RunOptions, run

        for flag, value, least in (("--max-workers", args.max_workers, 1), ("--retry", args.retry, 0),
                                   ("--max-cost", args.max_cost, 0)):
            if value is not None and value < least:
                raise CompassError(f"{flag}: must be >= {least}, got {value}")
        logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
        config = _config_file(args)
        try:
            result = run(config, RunOptions(resume=args.reuse, dry_run=args.dry_run, work_dir=args.work_dir,
                                            max_workers=args.max_workers, retry=args.retry, mode=args.mode,
                                            quiet=args.quiet, cfg_options=args.cfg_options,
                                            max_cost=args.max_cost, contamination=args.contamination))
        except CompassError as exc:
            partial = getattr(exc, "partial_leaderboard", None)
            if partial:
                print(partial)
            raise
        print(result.text)
        return 0
    if args.command == "list":
        from compass.catalog import list_configs

        print(list_configs(Path(args.root)))
        return 0
    if args.command == "gate":
        from compass.gate import cli as gate_cli

        return gate_cli.run(args)
    if args.command == "contamination":
        from compass.contamination import cli as contamination_cli

        return contamination_cli.run(args)
    if args.command == "report":
        from compass.pipeline import FORMATS, report

        formats = [f.strip() for f in args.format.split(",") if f.strip()]
        unknown = [f for f in formats if f not in FORMATS]
        if unknown or not formats:
            raise CompassError(f"--format: unknown format {unknown[0] if unknown else '(none)'!r}; "
                               f"choose from {', '.join(FORMATS)}")
        print(report([Path(p) for p in args.run_dirs], formats, Path(args.out) if args.out else None,
                     args.contamination))
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
