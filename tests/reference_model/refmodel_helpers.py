"""Shared by the SFT, DPO and serving tests: small random checkpoints and a real server process."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Self

import torch

from reference_model.export import export
from reference_model.model import Transformer, named_config

REPO = Path(__file__).resolve().parents[2]


def random_checkpoint(path: Path, tokenizer_dir: Path, seed: int = 0, scale: float = 0.1, **overrides) -> Path:
    """A ``refmodel`` checkpoint dir of the ``tiny`` model with random weights (norm gains too)."""
    from tokenizers import Tokenizer

    torch.manual_seed(seed)
    vocab = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).get_vocab_size()
    cfg = named_config("tiny", vocab_size=vocab, **overrides)
    model = Transformer(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * (0.3 if p.dim() == 1 else scale) + (1.0 if p.dim() == 1 else 0.0))
    path.mkdir(parents=True)
    torch.save(model.state_dict(), path / "model.pt")
    state = {"step": 0, "samples": 0, "model_config": cfg.to_dict(), "train_config": {"data": ""},
             "tokenizer": str(tokenizer_dir)}
    (path / "state.json").write_text(json.dumps(state))
    return path


def random_export(root: Path, tokenizer_dir: Path, seed: int = 0, **overrides) -> Path:
    ckpt = random_checkpoint(root / f"ckpt-{seed}", tokenizer_dir, seed, **overrides)
    return export(ckpt, root / f"hf-{seed}")


def endless_export(root: Path, tokenizer_dir: Path) -> Path:
    """An export whose every next token is token 0 (all logits equal) and whose only stop token is
    ``<|im_end|>``: it generates until max_tokens, for tests that need a long request."""
    ckpt = random_checkpoint(root / "ckpt-endless", tokenizer_dir, 7, tie_embeddings=False)
    sd = torch.load(ckpt / "model.pt", weights_only=True)
    sd["output.weight"].zero_()
    torch.save(sd, ckpt / "model.pt")
    out = export(ckpt, root / "hf-endless")
    gen = json.loads((out / "generation_config.json").read_text())
    gen["eos_token_id"] = [gen["eos_token_id"][1]]
    (out / "generation_config.json").write_text(json.dumps(gen))
    return out


class Server:
    """``refmodel serve`` in a subprocess on a free loopback port."""

    def __init__(self, ckpt: Path, *flags: str, name: str = "m", env: dict | None = None):
        self.name = name
        cmd = [sys.executable, "-m", "reference_model.cli", "serve", str(ckpt), "--port", "0", "--name", name,
               "--threads", "1", *flags]
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (lives as long as the server; a file, not a pipe)
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
                                          "PYTHONPATH": str(REPO), **(env or {})})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r} {self.stderr()}")
        self.url = line.rsplit(" ", 1)[-1].strip()
        self.root = self.url.removesuffix("/v1")
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.root + "/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server never became healthy")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def metrics(self) -> dict[str, float]:
        from reference_model.serve.metrics import parse

        with urllib.request.urlopen(self.root + "/metrics", timeout=10) as r:
            return parse(r.read().decode())

    def client(self, key: str = "none"):
        import openai

        return openai.OpenAI(base_url=self.url, api_key=key, max_retries=0, timeout=60)

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
