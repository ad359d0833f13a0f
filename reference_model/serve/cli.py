"""``refmodel serve CKPT --host 127.0.0.1 --port N``: the OpenAI-compatible server, on uvicorn.

The model loads before the socket listens, so ``/health`` answers 200 as soon as anything does.
Once listening it prints ``refmodel serve: listening on http://HOST:PORT/v1`` (``--port 0`` picks
a free port; the line tells which). SIGINT/SIGTERM stop it gracefully: no new connections,
in-flight requests finish (up to ``--graceful-timeout`` seconds), then the engine stops.
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
from pathlib import Path

from ..configio import ConfigError

logger = logging.getLogger(__name__)


def add_serve_parser(sub) -> None:
    s = sub.add_parser("serve", help="serve a checkpoint over an OpenAI-compatible HTTP API (continuous batching)")
    s.add_argument("ckpt", help="checkpoint dir, run dir (newest checkpoint) or `refmodel export` dir")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000, help="0: any free port (printed once listening)")
    s.add_argument("--name", help="the model name clients send (default: the directory's name)")
    s.add_argument("--api-key", default=os.environ.get("REFMODEL_API_KEY"),
                   help="require 'Authorization: Bearer KEY' on /v1 routes (default: $REFMODEL_API_KEY; none: open)")
    s.add_argument("--max-model-len", type=int, default=0, help="prompt + output tokens (default: the model's max_seq_len)")
    s.add_argument("--kv-cache-tokens", type=int, default=65536, help="KV-cache size in tokens")
    s.add_argument("--block-size", type=int, default=16)
    s.add_argument("--max-num-seqs", type=int, default=64, help="sequences in the running batch at most")
    s.add_argument("--max-batched-tokens", type=int, default=512, help="tokens computed per step at most")
    s.add_argument("--max-waiting", type=int, default=256, help="queued sequences before requests get 429")
    s.add_argument("--no-prefix-cache", action="store_true", help="never reuse cached blocks across requests")
    s.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    s.add_argument("--graceful-timeout", type=float, default=30.0)
    s.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    s.set_defaults(fn=run)


def _graceful_server_class():
    import contextlib

    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn re-raises a SIGTERM it handled once it has shut down (exit status -15); here a stop
        that completed gracefully exits 0, as service managers expect."""

        @contextlib.contextmanager
        def capture_signals(self):
            with super().capture_signals():
                yield
                self._captured_signals.clear()

    return GracefulServer


def _positive(args: argparse.Namespace) -> None:
    for key in ("kv_cache_tokens", "block_size", "max_num_seqs", "max_batched_tokens", "max_waiting"):
        if getattr(args, key) <= 0:
            raise ConfigError(f"--{key.replace('_', '-')}: must be > 0, got {getattr(args, key)}")
    if args.max_model_len < 0 or not 0 <= args.port < 65536:
        raise ConfigError("--max-model-len must be >= 0 and --port in [0, 65535]")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from .engine import EngineConfig
    from .loading import load_served
    from .server import build_app

    _positive(args)
    ckpt = Path(args.ckpt)
    if not ckpt.exists():
        raise ConfigError(f"CKPT: {ckpt} does not exist")
    def engine_config(model_max_len: int) -> EngineConfig:
        max_len = args.max_model_len or model_max_len
        if args.kv_cache_tokens < max_len:
            raise ConfigError(f"--kv-cache-tokens {args.kv_cache_tokens} cannot hold one sequence of "
                              f"--max-model-len {max_len}")
        return EngineConfig(max_model_len=max_len, block_size=args.block_size,
                            num_blocks=-(-args.kv_cache_tokens // args.block_size), max_num_seqs=args.max_num_seqs,
                            max_batched_tokens=args.max_batched_tokens, max_waiting=args.max_waiting,
                            enable_prefix_cache=not args.no_prefix_cache)

    name = args.name or (ckpt.resolve().name if ckpt.name not in ("", ".") else "model")
    served = load_served(ckpt, name, engine_config, args.threads)
    max_len = served.engine.cfg.max_model_len
    app = build_app(served, args.api_key)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as e:
        raise ConfigError(f"--host/--port: cannot listen on {args.host}:{args.port} ({e.strerror})") from None
    sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level=args.log_level, timeout_graceful_shutdown=args.graceful_timeout,
                            access_log=args.log_level in ("debug", "info"))
    server = _graceful_server_class()(config)
    print(f"refmodel serve: {name} ({served.engine.runner.cache_bytes() / 2**20:.0f} MiB KV cache, max_model_len "
          f"{max_len}) listening on http://{args.host}:{port}/v1", flush=True)
    server.run(sockets=[sock])
    logger.info("stopped")
    return 0
