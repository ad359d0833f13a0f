"""The ``sft`` and ``prefer`` subcommands of ``refmodel`` (keys from --config, --set or --KEY)."""
from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, fields


def _add(sub, name: str, cls, help_text: str, fn) -> None:
    p = sub.add_parser(name, help=help_text, description="Keys may come from --config, --set KEY=VALUE or --KEY VALUE "
                                                         "(flags win).")
    p.add_argument("--config", help="JSON/TOML config")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    for f in fields(cls):
        default = f.default if f.default is not MISSING else "{}"
        p.add_argument(f"--{f.name}", dest=f"cfg_{f.name}", metavar="V", help=f"(default: {default})")
    p.set_defaults(fn=fn, tune_cls=cls)


def _flags(args: argparse.Namespace) -> list[str]:
    return [f"{f.name}={v}" for f in fields(args.tune_cls) if (v := getattr(args, f"cfg_{f.name}")) is not None]


def _cmd_sft(args: argparse.Namespace) -> int:
    from .sft import sft
    from .tune_config import load_tune_config

    cfg = load_tune_config(args.tune_cls, args.config, args.set + _flags(args))
    print(json.dumps(sft(cfg)))  # type: ignore[arg-type]
    return 0


def _cmd_prefer(args: argparse.Namespace) -> int:
    from .preference import prefer
    from .tune_config import load_tune_config

    cfg = load_tune_config(args.tune_cls, args.config, args.set + _flags(args))
    print(json.dumps(prefer(cfg)))  # type: ignore[arg-type]
    return 0


def add_tune_parsers(sub) -> None:
    from .tune_config import DPOConfig, SFTConfig

    _add(sub, "sft", SFTConfig, "supervised fine-tuning on chat conversations (loss on assistant tokens)", _cmd_sft)
    _add(sub, "prefer", DPOConfig, "DPO on chosen/rejected pairs against a frozen reference policy", _cmd_prefer)
