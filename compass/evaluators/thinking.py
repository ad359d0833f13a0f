"""Reasoning models think before they answer: the answer is what follows the thinking block, and a
block that never closes holds no answer at all (the model ran out of room), never a parse of its
thoughts."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from compass.config import Thinking


@dataclass(frozen=True)
class Split:
    thinking: str
    answer: str
    closed: bool  # False: the thinking never ended, so there is no answer

    def extracted(self, extract: Callable[[str], str]) -> str:
        """The answer through the dataset's postprocessor; empty when the thinking never ended (no
        answer is parsed out of thoughts)."""
        return extract(self.answer) if self.closed else ""


def split_thinking(text: str, thinking: Thinking | None) -> Split:
    """``text`` cut at the last closing tag; with no tags configured, all of it is the answer. A text
    that opens a block without closing it has no answer, also when the block opens after an
    earlier one closed (the model went back to thinking and ran out of room); one with neither
    tag is all answer, unless the prompt opened the block (``starts_open``): then the text begins
    inside it."""
    if thinking is None:
        return Split("", text, True)
    opening, closing = thinking.tags
    if thinking.starts_open and not text.lstrip().startswith(opening):
        text = opening + text  # the tag the prompt ended with (a model may also write it again)
    end = text.rfind(closing)
    if end >= 0 and opening not in text[end + len(closing):]:
        return Split(text[:end].replace(opening, "", 1).strip(), text[end + len(closing):].strip(), True)
    if opening in text:
        text = text[end + len(closing):] if end >= 0 else text
        return Split(text.split(opening, 1)[1].strip(), "", False)
    return Split("", text, True)
