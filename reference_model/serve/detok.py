"""Output text of a sequence as it grows: stop strings, and what is safe to send so far.

The text is always the decode of all output ids at once (special tokens skipped), exactly what a
client decoding the finished ids gets; a stop string cuts it before the string. While streaming,
text that might still turn into a stop string, or that ends in a partial UTF-8 character
(U+FFFD), is held back until the next tokens settle it.
"""
from __future__ import annotations

from tokenizers import Tokenizer


class TextTracker:
    def __init__(self, tokenizer: Tokenizer, stop: tuple[str, ...]):
        self.tokenizer = tokenizer
        self.stop = tuple(s for s in stop if s)
        self.sent = 0  # characters already handed out
        self.text = ""

    def update(self, output_ids: list[int], final: bool) -> tuple[str, bool]:
        """(new text to send, whether a stop string ended it). ``final``: no more tokens follow."""
        text = self.tokenizer.decode(output_ids, skip_special_tokens=True)
        hits = [i for i in (text.find(s) for s in self.stop) if i >= 0]
        if hits:
            self.text = text[:min(hits)]
            return self._flush(len(self.text)), True
        self.text = text
        if final:
            return self._flush(len(text)), False
        return self._flush(len(text) - self._holdback(text)), False

    def _flush(self, upto: int) -> str:
        if upto <= self.sent:
            return ""
        delta = self.text[self.sent:upto]
        self.sent = upto
        return delta

    def _holdback(self, text: str) -> int:
        """Trailing characters that must wait: a partial character, or a prefix of a stop string."""
        n = len(text) - len(text.rstrip("\ufffd"))
        for s in self.stop:
            for k in range(min(len(s) - 1, len(text)), 0, -1):
                if text.endswith(s[:k]):
                    n = max(n, k)
                    break
        return n
