"""Needle in a haystack: short facts hidden at chosen token depths of long filler contexts.

The grid is ``needle_cfg.lengths`` × ``needle_cfg.depths``, with ``num_samples`` samples per cell,
each with its own seeded needles ("The secret code of the Lisbon vault is 4821903."). Lengths and
depths count tokens of ``needle_cfg.tokenizer_path`` (normally the model under test's path): the
loader reads that tokenizer, never the weights. ``path`` is the haystack: ``"synthetic"`` for the
built-in prose (compass.datasets.haystack) or a local ``.txt`` file or folder of them.

A context is the haystack cut to the target length in tokens (needles included) with each needle
put at the sentence start nearest its target depth, or at the very end; with ``num_needles`` k > 1 the needles go to
depths d, d + (100 - d)/k, ... in that order, and the question asks for all of them.
Samples: fields ``context`` and ``question``, id ``<length>/<depth>/<index>``, group
``<length>@<depth>`` (the evaluator's grid cell), gold the value (a list of values when k > 1).
"""
from __future__ import annotations

import json
import random
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from compass.config import DatasetConfig, NeedleCfg
from compass.datasets import haystack
from compass.datasets.base import LoadedDataset, Sample
from compass.errors import CompassError

NEEDLE = "The secret code of the {city} vault is {value}."
CITIES = ["Lisbon", "Oslo", "Quito", "Nairobi", "Lima", "Dublin", "Vienna", "Cairo", "Hanoi", "Havana", "Prague",
          "Madrid", "Seoul", "Manila", "Dakar", "Riga", "Tunis", "Accra", "Bogota", "Kyoto", "Zurich", "Porto",
          "Geneva", "Sydney", "Toronto", "Denver", "Osaka", "Milan", "Munich", "Warsaw", "Athens", "Helsinki",
          "Santiago", "Montreal", "Mumbai", "Jakarta", "Istanbul", "Marseille", "Glasgow", "Tbilisi"]
MARGIN = 64  # extra haystack tokens, so fitting a context's length never runs out of text
FIT_ROUNDS = 4  # re-measurements of a context's length; merges at the cuts make it off by a token or two


@dataclass(frozen=True)
class Haystack:
    text: str
    starts: list[int]  # character offset of each sentence's first character
    token_ends: list[int]  # character offset just past each token, nondecreasing


@dataclass(frozen=True)
class Needle:
    city: str
    value: str

    @property
    def text(self) -> str:
        return NEEDLE.format(city=self.city, value=self.value)


def count_tokens(tok, text: str) -> int:
    return len(tok(text, add_special_tokens=False)["input_ids"])


@lru_cache(maxsize=4)
def load_tokenizer(path: str, kwargs_json: str = "{}"):
    """The tokenizer lengths and depths are measured with (cached: every cell uses it)."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path, **json.loads(kwargs_json))
    except Exception as exc:  # OSError/ValueError for missing files; remote code may raise anything
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise CompassError(f"needle_cfg.tokenizer_path: cannot load a tokenizer from {path!r} ({reason})") from None


def _token_ends(tok, text: str, starts: list[int], ends: list[int]) -> list[int]:
    if getattr(tok, "is_fast", False):
        try:
            offsets = tok(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
            out, last = [], 0
            for _, end in offsets:
                last = max(last, end)
                out.append(last)
            return out
        except (NotImplementedError, TypeError, ValueError):
            pass
    # No offsets (slow tokenizers): tokenize sentence by sentence and place each token's end by
    # decoding the sentence's token prefix. Separators between sentences get no tokens, so positions
    # are approximate here; the fitted context length is still measured exactly.
    out = []
    for start, end in zip(starts, ends):
        ids = tok(text[start:end], add_special_tokens=False)["input_ids"]
        last = start
        for j in range(len(ids)):
            last = max(last, start + min(len(tok.decode(ids[: j + 1])), end - start))
            out.append(last)
    return out


@lru_cache(maxsize=4)
def build_haystack(tok, source: str, seed: int, n_tokens: int) -> Haystack:
    """At least ``n_tokens`` tokens of haystack text: paragraphs of sentences from ``source``."""
    stream = haystack.paragraphs(source, seed)
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos, want = 0, 4 * n_tokens + 1000  # most tokenizers average 3-5 characters per token
    while True:
        while pos < want:
            for j, sentence in enumerate(next(stream)):
                sep = (" " if j else "\n\n") if parts else ""
                parts += [sep, sentence]
                starts.append(pos + len(sep))
                pos += len(sep) + len(sentence)
                ends.append(pos)
        text = "".join(parts)
        token_ends = _token_ends(tok, text, starts, ends)
        if len(token_ends) >= n_tokens:
            return Haystack(text, starts, token_ends)
        want = int(pos * 1.2 * n_tokens / max(1, len(token_ends))) + 1000


def spread_depths(depth: float, k: int) -> list[float]:
    """Depths of k needles: the cell's depth first, the rest evenly spaced towards the end."""
    return [depth + i * (100 - depth) / k for i in range(k)]


def _assemble(hay: Haystack, budget: int, depths: list[float], needles: list[str]) -> str:
    """The first ``budget`` haystack tokens with each needle at the sentence start nearest its depth."""
    cut = hay.token_ends[budget - 1]
    # Insertion points: sentence starts inside the kept text, and its end (after a cut sentence, as
    # the original benchmark does, so that depth 100 is the very end however long sentences are).
    points = [s for s in hay.starts if s < cut] + [cut]
    at_token = [bisect_right(hay.token_ends, p) for p in points]
    pieces, last = [], 0
    for depth, needle in zip(depths, needles):  # depths ascend, so the chosen points do too
        target = depth / 100 * budget
        point = points[min(range(len(points)), key=lambda k: (abs(at_token[k] - target), k))]
        pieces += [hay.text[last:point], needle + " " if point < cut else " " + needle]
        last = point
    pieces.append(hay.text[last:cut])
    return "".join(pieces)


def build_context(tok, hay: Haystack, length: int, depths: list[float], needles: list[str]) -> str:
    """A context of ``length`` tokens (as ``tok`` counts them) holding ``needles`` at ``depths`` (%)."""
    needle_tokens = sum(count_tokens(tok, " " + n) for n in needles)
    budget = length - needle_tokens
    best: tuple[int, str] | None = None
    for _ in range(FIT_ROUNDS):
        if budget < 1:
            raise CompassError(f"needle_cfg.lengths: {length} tokens cannot hold {len(needles)} needle(s) "
                               f"of about {needle_tokens} tokens and any haystack")
        text = _assemble(hay, min(budget, len(hay.token_ends)), depths, needles)
        n = count_tokens(tok, text)
        if best is None or abs(n - length) < best[0]:
            best = (abs(n - length), text)
        if n == length:
            break
        budget += length - n
    return best[1]  # type: ignore[index]


def needles_for(cfg: NeedleCfg, length: int, depth: float, index: int) -> list[Needle]:
    """The needles of one sample: seeded by its cell and index alone, not by the rest of the grid."""
    rng = random.Random(f"needle-{cfg.seed}-{length}-{depth:g}-{index}")
    cities = rng.sample(CITIES, cfg.num_needles)
    values = rng.sample(range(1_000_000, 10_000_000), cfg.num_needles)
    return [Needle(c, str(v)) for c, v in zip(cities, values)]


def question(needles: list[Needle]) -> str:
    if len(needles) == 1:
        return f"What is the secret code of the {needles[0].city} vault?"
    names = ", ".join(n.city for n in needles[:-1]) + f" and {needles[-1].city}"
    return f"What are the secret codes of the {names} vaults?"


def load_needle(cfg: DatasetConfig) -> LoadedDataset:
    n = cfg.needle_cfg
    if not isinstance(n, NeedleCfg):  # config validation guarantees it for type 'needle'
        raise CompassError(f"{cfg.abbr}: needle_cfg: required for type 'needle'")
    tok = load_tokenizer(n.tokenizer_path, json.dumps(n.tokenizer_kwargs, sort_keys=True))
    hay = build_haystack(tok, cfg.path, n.seed, max(n.lengths) + MARGIN)
    samples = []
    for length in n.lengths:
        for depth in n.depths:
            for i in range(n.num_samples):
                needles = needles_for(n, length, depth, i)
                context = build_context(tok, hay, length, spread_depths(depth, n.num_needles),
                                        [x.text for x in needles])
                gold = needles[0].value if n.num_needles == 1 else [x.value for x in needles]
                samples.append(Sample(f"{length}/{depth:g}/{i}", {"context": context, "question": question(needles)},
                                      gold, group=f"{length}@{depth:g}"))
    return LoadedDataset(samples)
