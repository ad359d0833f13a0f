"""What every generator shares: the hash that assigns an item to one split, and the draw of
distinct items of a split."""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

LETTERS = "ABCD"
SPLITS = ("train", "dev", "val", "test")


@dataclass(frozen=True)
class McItem:
    question: str
    choices: tuple[str, str, str, str]
    answer: str  # 'A'..'D'


def split_of(key: str) -> str:
    """The split an item belongs to, from a hash of its key: 70% train, 5% dev, 5% val, 20% test."""
    bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 20
    if bucket < 14:
        return "train"
    return {14: "dev", 15: "val"}.get(bucket, "test")


def multiple_choice(rng: random.Random, correct: str, distractors: list[str]) -> tuple[tuple[str, str, str, str], str]:
    options = [correct] + [d for d in dict.fromkeys(distractors) if d != correct][:3]
    rng.shuffle(options)
    return tuple(options), LETTERS[options.index(correct)]  # type: ignore[return-value]


def collect(make, rng_seed: str, split: str, n: int) -> list:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    rng = random.Random(rng_seed)
    seen: set[str] = set()
    items = []
    for _ in range(200 * n + 1000):
        key, item = make(rng)
        if key in seen or split_of(key) != split:
            continue
        seen.add(key)
        items.append(item)
        if len(items) == n:
            return items
    raise ValueError(f"only {len(items)} distinct {split} items exist for {rng_seed!r}, asked for {n}")
