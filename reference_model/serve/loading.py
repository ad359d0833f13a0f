"""What the server serves: the model (any checkpoint ``refmodel`` can load), its tokenizer, its
stop tokens and its chat template, and the engine built over them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..tokenizer import EOT, IM_END
from ..train.chat import ChatTokenizer
from ..train.load import load_model
from .engine import Engine, EngineConfig
from .metrics import Metrics


@dataclass
class Served:
    name: str
    engine: Engine
    chat: ChatTokenizer
    vocab_size: int
    source: Path
    created: int


def eos_ids_of(chat: ChatTokenizer, configured: tuple[int, ...]) -> frozenset[int]:
    """The export's ``generation_config`` stop ids; for a raw checkpoint ``<|endoftext|>`` and ``<|im_end|>``."""
    if configured:
        return frozenset(configured)
    return frozenset(i for i in (chat.tok.token_to_id(EOT), chat.tok.token_to_id(IM_END)) if i is not None)


def load_served(path: str | Path, name: str, make_config: Callable[[int], EngineConfig], threads: int = 0) -> Served:
    """``make_config(the model's max_seq_len)`` gives the engine's settings."""
    import time

    if threads:
        torch.set_num_threads(threads)
    loaded = load_model(path, "CKPT")
    chat = ChatTokenizer(loaded.tokenizer_dir)
    cfg = make_config(loaded.model.cfg.max_seq_len)
    engine = Engine(loaded.model, chat.tok, eos_ids_of(chat, loaded.eos_ids), cfg, Metrics())
    return Served(name, engine, chat, loaded.model.cfg.vocab_size, loaded.source, int(time.time()))
