"""Conversations as token ids: the tokenizer's own chat template, rendered the way transformers does.

``tokenizer_config.json`` holds a jinja ``chat_template`` (ChatML for this stack's tokenizer).
Rendering it here with the same jinja settings as ``apply_chat_template`` (sandboxed,
``trim_blocks``, ``lstrip_blocks``) and tokenising without added special tokens gives the same
ids as ``tokenizer.apply_chat_template(messages, tokenize=True)`` and as the server's chat route.

An assistant turn is what the template appends for it after the generation prompt
(``<|im_start|>assistant\\n``): its content, ``<|im_end|>`` and the newline. These are the tokens
SFT learns and DPO scores (the same split as TRL's ``DPOTrainer``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    loss_mask: list[bool]  # True on the tokens of assistant turns


class ChatTokenizer:
    def __init__(self, tokenizer_dir: str | Path):
        self.dir = Path(tokenizer_dir)
        self.tok = Tokenizer.from_file(str(self.dir / "tokenizer.json"))
        config = json.loads((self.dir / "tokenizer_config.json").read_text())
        self.template_source: str = config.get("chat_template") or ""
        self.eos_token: str = config.get("eos_token") or "<|endoftext|>"

    @cached_property
    def _template(self):
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        if not self.template_source:
            raise ValueError(f"{self.dir}/tokenizer_config.json has no chat_template")
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(self.template_source)

    def render(self, messages: list[dict], add_generation_prompt: bool = False) -> str:
        return self._template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                     eos_token=self.eos_token, bos_token=self.eos_token)

    def encode_text(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self.tok.encode(text, add_special_tokens=add_special_tokens).ids

    def encode_chat(self, messages: list[dict], add_generation_prompt: bool = False) -> list[int]:
        return self.encode_text(self.render(messages, add_generation_prompt))

    def encode_conversation(self, messages: list[dict]) -> Encoded:
        """Ids of the whole conversation, with the tokens of every assistant turn marked."""
        text = self.render(messages)
        spans = []
        for k, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            before = self.render(messages[:k], add_generation_prompt=True)
            through = self.render(messages[:k + 1])
            if not (through.startswith(before) and text.startswith(through)):
                raise ValueError("the chat template does not render a conversation as the concatenation of its turns")
            spans.append((len(before), len(through)))
        enc = self.tok.encode(text, add_special_tokens=False)
        mask = [any(lo <= start < hi for lo, hi in spans) for start, _ in enc.offsets]
        return Encoded(list(enc.ids), mask)

    def encode_preference(self, prompt: list[dict], chosen: list[dict], rejected: list[dict]
                          ) -> tuple[list[int], list[int], list[int]]:
        """(prompt, chosen, rejected) ids as TRL's ``DPOTrainer`` splits them: the prompt rendered with the
        generation prompt, each completion from where the tokenisations first differ (over both)."""
        prompt_ids = self.encode_chat(prompt, add_generation_prompt=True)
        full_chosen, full_rejected = self.encode_chat(prompt + chosen), self.encode_chat(prompt + rejected)
        n = min(_common_prefix(prompt_ids, full_chosen), _common_prefix(prompt_ids, full_rejected))
        return prompt_ids[:n], full_chosen[n:], full_rejected[n:]


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def check_messages(messages: object, where: str) -> list[dict]:
    """OpenAI ``messages``: a non-empty list of {role, content} with a known role and string content."""
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"{where}: 'messages' must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise ValueError(f"{where}: messages[{i}] must be {{'role': one of {', '.join(ROLES)}, 'content': a string}}")
    return [{"role": m["role"], "content": m["content"]} for m in messages]
