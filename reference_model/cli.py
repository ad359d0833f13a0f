"""``refmodel``: the reference model stack's command line.

    refmodel data      --config data.json --out DIR        corpus -> shards + manifest.json
    refmodel tokenizer --input docs.jsonl --out DIR        train the BPE tokenizer alone
    refmodel pretrain  --config train.json [--KEY VALUE]   single process or under torchrun
    refmodel export    --ckpt RUN_OR_CKPT --out DIR        Hugging Face LlamaForCausalLM
    refmodel demo      --out DIR                           the whole chain, small, on CPU
    refmodel sft       --init CKPT --data DIR [--KEY VALUE] supervised fine-tuning on chat conversations
    refmodel prefer    --init CKPT --data DIR [--KEY VALUE] DPO against a frozen reference
    refmodel serve     CKPT --host 127.0.0.1 --port N       OpenAI-compatible server, continuous batching

Configuration problems exit with status 2 and one line naming the key.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .configio import ConfigError


def _need(path: str | None, flag: str, file: str = "") -> None:
    """A path given on the command line exists (and holds ``file``), checked before any work."""
    if path is None:
        return
    target = Path(path) / file if file else Path(path)
    if not target.exists():
        raise ConfigError(f"{flag} {path}: " + (f"no {file} there" if file and Path(path).is_dir() else "no such path"))


def _cmd_data(args) -> int:
    from .configio import apply_overrides, build, load_file
    from .data.pipeline import DataConfig, run

    _need(args.tokenizer, "--tokenizer", "tokenizer.json")
    raw = load_file(args.config) if args.config else {}
    if args.tokenizer:
        raw["tokenizer"] = args.tokenizer
    cfg = build(DataConfig, apply_overrides(raw, args.set))
    manifest = run(cfg, args.out)
    print(json.dumps(manifest["totals"]))
    return 0


def _cmd_tokenizer(args) -> int:
    from . import tokenizer as tok

    for path in args.input:
        _need(path, "--input")
    out = tok.train_tokenizer(tok.iter_jsonl_texts(args.input, args.text_key), args.out,
                              tok.TokenizerConfig(vocab_size=args.vocab_size, min_frequency=args.min_frequency))
    print(f"tokenizer ({tok.load(out).get_vocab_size()} tokens) -> {out}")
    return 0


def _cmd_pretrain(args) -> int:
    from .train.config import field_names, load_train_config
    from .train.pretrain import pretrain

    flags = [f"{k}={v}" for k in field_names() if (v := getattr(args, f"cfg_{k}")) is not None]
    cfg = load_train_config(args.config, args.set + flags)
    summary = pretrain(cfg)
    if int(__import__("os").environ.get("RANK", "0")) == 0:
        print(json.dumps(summary))
    return 0


def _cmd_export(args) -> int:
    from .export import export, resolve_checkpoint

    _need(args.ckpt, "--ckpt")
    _need(args.tokenizer, "--tokenizer", "tokenizer.json")
    try:
        resolve_checkpoint(args.ckpt)
    except FileNotFoundError as e:
        raise ConfigError(f"--ckpt {args.ckpt}: {e}") from None
    out = export(args.ckpt, args.out, args.tokenizer, args.dtype)
    print(f"exported -> {out}")
    return 0


def _cmd_demo(args) -> int:
    from .demo import build_demo

    build_demo(args.out, asset_dir=args.asset_dir, steps=args.steps, model=args.model, threads=args.threads)
    return 0


def _parser() -> argparse.ArgumentParser:
    from .train.config import TrainConfig, field_names

    p = argparse.ArgumentParser(prog="refmodel", description="Compass reference model stack.",
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", help="build a pretraining corpus: format, clean, dedup, safety, quality, pack")
    d.add_argument("--config", help="JSON/TOML DataConfig (sources, clean, dedup, safety, quality, pack)")
    d.add_argument("--out", required=True, help="output dir: docs.jsonl, stages/, shards/, manifest.json")
    d.add_argument("--tokenizer", help="existing tokenizer dir (default: train one on the corpus)")
    d.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. dedup.threshold=0.8 (repeatable)")
    d.set_defaults(fn=_cmd_data)

    t = sub.add_parser("tokenizer", help="train the byte-level BPE tokenizer on jsonl/text files")
    t.add_argument("--input", nargs="+", required=True, help=".jsonl (field --text-key) or plain text files")
    t.add_argument("--out", required=True)
    t.add_argument("--vocab-size", type=int, default=2048, help="target size before padding to a multiple of 64")
    t.add_argument("--min-frequency", type=int, default=2)
    t.add_argument("--text-key", default="text")
    t.set_defaults(fn=_cmd_tokenizer)

    pt = sub.add_parser("pretrain", help="pretrain (run under torchrun for DDP/FSDP)",
                        description="Keys may come from --config, --set KEY=VALUE or --KEY VALUE (flags win).")
    pt.add_argument("--config", help="JSON/TOML TrainConfig")
    pt.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    defaults = TrainConfig.__dataclass_fields__
    for name in field_names():
        pt.add_argument(f"--{name}", dest=f"cfg_{name}", metavar="V",
                        help=f"(default: {defaults[name].default if not callable(defaults[name].default_factory) else '{}'})")
    pt.set_defaults(fn=_cmd_pretrain)

    e = sub.add_parser("export", help="export a checkpoint to Hugging Face LlamaForCausalLM (safetensors)")
    e.add_argument("--ckpt", required=True, help="checkpoint dir, or a pretrain run dir (newest checkpoint)")
    e.add_argument("--out", required=True)
    e.add_argument("--tokenizer", help="tokenizer dir (default: the one the run trained with)")
    e.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    e.set_defaults(fn=_cmd_export)

    m = sub.add_parser("demo", help="build the small CPU demo model end to end (data -> export -> check)")
    m.add_argument("--out", default="outputs/reference-demo", help="work dir for data, run and export")
    m.add_argument("--asset-dir", help="also copy the exported model here (e.g. examples/assets/reference-demo)")
    m.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the demo's)")
    m.add_argument("--model", default="demo-3m")
    m.add_argument("--threads", type=int, default=0)
    m.set_defaults(fn=_cmd_demo)

    from .serve.cli import add_serve_parser
    from .train.tune_cli import add_tune_parsers

    add_tune_parsers(sub)
    add_serve_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.fn(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
