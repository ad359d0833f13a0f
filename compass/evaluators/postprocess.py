"""Answer extraction: from a model's raw output to the answer that is compared with gold."""
from __future__ import annotations

import re

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?"


def first_capital(text: str) -> str:
    """The first standalone option letter A-E (``"(B) because"`` → ``"B"``)."""
    match = re.search(r"\b([A-E])\b", text)
    return match.group(1) if match else ""


def last_number(text: str) -> str:
    """The number after "The answer is", else after "####", else the last number in the text."""
    for pattern in (rf"answer is\s*\$?\s*({_NUMBER})", rf"####\s*\$?\s*({_NUMBER})"):
        found = re.findall(pattern, text, flags=re.IGNORECASE)
        if found:
            return normalize_number(found[0])
    numbers = re.findall(_NUMBER, text)
    return normalize_number(numbers[-1]) if numbers else ""


def normalize_number(text: str) -> str:
    text = text.replace(",", "").rstrip(".")
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else repr(value)


def strip(text: str) -> str:
    return text.strip()
