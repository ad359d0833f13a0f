"""Prompt text to token ids, shared by the local backends (transformers, vLLM) so both score and
generate from exactly the same tokens."""
from __future__ import annotations

from compass.models.base import ScoreRequest


def chat_messages(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
    """The conversation a chat model is sent: the model's system turn, if any, then the prompt."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*system, {"role": "user", "content": prompt}]


class PromptEncoder:
    def __init__(self, tokenizer, chat: bool, max_seq_len: int, system_prompt: str | None = None):
        self.tokenizer, self.chat, self.max_seq_len = tokenizer, chat, max_seq_len
        self.system_prompt = system_prompt

    def format(self, text: str) -> str:
        if not self.chat:
            return text
        messages = chat_messages(text, self.system_prompt)
        if not getattr(self.tokenizer, "chat_template", None):
            # Documented fallback for tokenizers without a template: ChatML, as InternLM2 and Qwen use.
            return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + \
                "<|im_start|>assistant\n"
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def encode(self, texts: list[str]) -> list[list[int]]:
        # One batched call (the fast tokenizer parallelises it); a chat template already holds
        # the special tokens it wants.
        return self.tokenizer(texts, add_special_tokens=not self.chat)["input_ids"] if texts else []

    def score_inputs(self, requests: list[ScoreRequest]) -> tuple[list[list[int]], list[list[list[int]]]]:
        """(context ids, continuation ids per context), contexts cut from the left to fit."""
        contexts = [self.format(req.context) for req in requests]
        context_ids = self.encode(contexts)
        # Encode context + continuation together so merges across the boundary match how the
        # model saw such text; fall back to the continuation alone where the context's tokens change.
        whole = iter(self.encode([ctx + c for ctx, req in zip(contexts, requests) for c in req.continuations]))
        alone = iter(self.tokenizer([c for req in requests for c in req.continuations],
                                    add_special_tokens=False)["input_ids"])
        kept, conts = [], []
        for ids, req in zip(context_ids, requests):
            mine = []
            for _ in req.continuations:
                w, a = next(whole), next(alone)
                mine.append(w[len(ids):] if w[:len(ids)] == ids and len(w) > len(ids) else a)
            keep = self.max_seq_len + 1 - max(len(c) for c in mine)
            kept.append(ids[-max(keep, 1):])
            conts.append(mine)
        return kept, conts
