"""Byte-level BPE tokenizer: single-digit splitting, no unknown token, ChatML specials.

Saved as a Hugging Face fast tokenizer that both transformers 4.x and 5.x load with
``AutoTokenizer.from_pretrained`` (no remote code).  Documents are packed as
``<|endoftext|> text`` so the same token is BOS at inference and the separator during training.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

EOT = "<|endoftext|>"
PAD = "<|pad|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
N_RESERVED = 4
SPECIAL_TOKENS = [EOT, PAD, IM_START, IM_END] + [f"<|reserved_{i}|>" for i in range(N_RESERVED)]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass
class TokenizerConfig:
    vocab_size: int = 2048  # target before padding; the saved vocab is a multiple of pad_to
    min_frequency: int = 2
    pad_to: int = 64


def _build(cfg: TokenizerConfig) -> tuple[Tokenizer, trainers.BpeTrainer]:
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    # Digits first so every digit is its own pre-token; ByteLevel then maps bytes to visible chars,
    # which makes all 256 bytes part of the base alphabet: any input encodes, nothing is unknown.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    return tok, trainer


def train_tokenizer(texts: Iterable[str], out_dir: str | Path, cfg: TokenizerConfig | None = None) -> Path:
    cfg = cfg or TokenizerConfig()
    tok, trainer = _build(cfg)
    tok.train_from_iterator(texts, trainer=trainer)
    # Pad with reserved specials so embedding rows are a multiple of pad_to (GPU-friendly GEMMs).
    i = N_RESERVED
    while tok.get_vocab_size() % cfg.pad_to:
        tok.add_special_tokens([f"<|reserved_{i}|>"])
        i += 1
    eot_id = tok.token_to_id(EOT)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{EOT} $A", pair=f"{EOT} $A $B", special_tokens=[(EOT, eot_id)])
    return save_hf(tok, out_dir)


def save_hf(tok: Tokenizer, out_dir: str | Path) -> Path:
    """Write tokenizer.json + tokenizer_config.json + special_tokens_map.json by hand.

    Writing the config ourselves (instead of ``save_pretrained``) keeps one format that both
    transformers 4 and 5 read: chat_template inline, explicit tokenizer_class.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    added = {
        str(tok.token_to_id(t)): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                  "single_word": False, "special": True}
        for t in tok.get_vocab() if t.startswith("<|") and t.endswith("|>")
    }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_input_names": ["input_ids", "attention_mask"],
        "bos_token": EOT, "eos_token": EOT, "pad_token": PAD, "unk_token": None,
        "add_bos_token": True, "add_eos_token": False, "clean_up_tokenization_spaces": False,
        "model_max_length": 1_000_000, "chat_template": CHATML_TEMPLATE,
        "added_tokens_decoder": dict(sorted(added.items(), key=lambda kv: int(kv[0]))),
        "additional_special_tokens": [IM_START, IM_END],
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    special = {"bos_token": EOT, "eos_token": EOT, "pad_token": PAD,
               "additional_special_tokens": [IM_START, IM_END]}
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    return out


def load(path: str | Path) -> Tokenizer:
    return Tokenizer.from_file(str(Path(path) / "tokenizer.json"))


def fingerprint(path: str | Path) -> str:
    return hashlib.sha256((Path(path) / "tokenizer.json").read_bytes()).hexdigest()


def iter_jsonl_texts(paths: Iterable[str | Path], key: str = "text") -> Iterator[str]:
    for p in paths:
        p = Path(p)
        with p.open(encoding="utf-8", errors="replace") as f:
            if p.suffix == ".jsonl":
                for line in f:
                    if line.strip():
                        yield json.loads(line)[key]
            else:
                yield f.read()
