"""Haystack text for the needle benchmark: seeded synthetic prose, or the user's own text files.

The synthetic prose is plain English built from sentence templates with a seeded generator, so it
is the same on every machine and Python version, needs no download, and holds no digits and none
of the words a needle uses ("secret", "code", "vault", city names): a needle's value is then the
only number in the context.
"""
from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

from compass.errors import CompassError

SYNTHETIC = "synthetic"  # the dataset ``path`` that selects the built-in generator

_PEOPLE = ["the old gardener", "a patient teacher", "the river pilot", "our neighbour", "the young baker",
           "a travelling musician", "the night watchman", "the librarian", "a careful carpenter",
           "the village doctor", "a retired sailor", "the shepherd", "the potter", "a curious child",
           "the beekeeper", "the ferry captain", "my grandmother", "the weaver", "a quiet stranger",
           "the schoolmaster", "the miller's daughter", "an apprentice painter", "the innkeeper"]
_DID = ["noticed", "remembered", "described", "admired", "repaired", "studied", "painted", "followed",
        "collected", "explained", "measured", "sketched", "cleaned", "carried", "questioned", "praised"]
_THINGS = ["the crooked fence by the orchard", "a letter from a distant cousin", "the shape of the morning clouds",
           "the quiet rhythm of the tide", "an unfinished map of the hills", "the smell of fresh bread",
           "a basket of wild berries", "the worn steps of the chapel", "the colour of the autumn leaves",
           "a broken lantern", "the path through the marsh", "the sound of distant bells", "a chipped blue bowl",
           "the roof of the granary", "an old wooden boat", "the patterns in the frost", "a box of faded ribbons",
           "the edge of the meadow", "the tall grass behind the barn", "a song about the sea"]
_PLACES = ["near the harbour", "behind the mill", "along the northern ridge", "in the walled garden",
           "under the old bridge", "at the edge of the forest", "beside the market square", "on the hill road",
           "by the frozen pond", "inside the empty station", "across the valley", "at the end of the lane"]
_TIMES = ["early in the spring", "after the long rains", "on a grey afternoon", "before the first frost",
          "late one evening", "during the harvest", "at dawn", "in the middle of winter", "one windy morning",
          "when the swallows returned", "after supper"]
_IDEAS = ["patience", "good soil", "an honest answer", "a warm coat", "kindness to strangers", "a steady hand",
          "careful listening", "a full larder", "an open window", "old friendship", "a sharp knife", "quiet work",
          "a clear sky", "a well-kept garden", "curiosity"]
_FEELINGS = ["quietly pleased", "a little tired", "oddly hopeful", "rather puzzled", "completely calm",
             "slightly worried", "deeply grateful", "happier than before"]
_WEATHER = ["rain", "fog", "wind", "snow", "heat", "drizzle"]
_ROADS = ["road", "footpath", "old track", "riverbank", "courtyard", "lane"]
_STATES = ["muddy", "slippery", "hard to see", "nearly impassable", "strangely silent", "bright and dusty"]
_SAYINGS = ["a slow river still reaches the sea", "bread shared is bread doubled", "every roof leaks once",
            "the longest road starts at the door", "a borrowed ladder is always too short",
            "the moon is no lamp for a careless traveller", "quiet hands make strong baskets"]
_TEMPLATES = [
    "{Time}, {person} {did} {thing} {place}.",
    "{Person} often said that {idea} was worth more than {idea2}.",
    "It was slow work, and {person} did it without complaint.",
    "{Place}, {thing} had changed more than anyone expected.",
    "Some people believed in {idea}, while others trusted {idea2}.",
    "{Person} kept a small notebook full of notes about {thing}.",
    "The {weather} made the {road} {state}, so {person} waited.",
    "There is an old saying that {saying}.",
    "{Person} {did} {thing}, and then {did2} {thing2}.",
    "Years later, {person} would still talk about {thing}.",
    "Nobody could explain why {thing} mattered so much to {person}.",
    "By the evening everyone felt {feeling}.",
    "{Person} walked {place} and thought about {idea}.",
    "The {weather} did not stop {person}.",
    "{Time}, the {road} {place} was {state}.",
    "Perhaps {idea} is simply another name for {idea2}.",
    "{Person} felt {feeling} after seeing {thing}.",
]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def synthetic_paragraphs(seed: int = 0) -> Iterator[list[str]]:
    """An endless stream of paragraphs (lists of sentences), the same for the same seed."""
    rng = random.Random(f"haystack-{seed}")
    while True:
        paragraph = []
        for _ in range(rng.randint(3, 7)):
            template = rng.choice(_TEMPLATES)
            idea, idea2 = rng.sample(_IDEAS, 2)
            thing, thing2 = rng.sample(_THINGS, 2)
            did, did2 = rng.sample(_DID, 2)
            person, place, time = rng.choice(_PEOPLE), rng.choice(_PLACES), rng.choice(_TIMES)
            values = {"person": person, "Person": _cap(person), "did": did, "did2": did2, "thing": thing,
                      "thing2": thing2, "place": place, "Place": _cap(place), "Time": _cap(time), "idea": idea,
                      "idea2": idea2, "feeling": rng.choice(_FEELINGS), "weather": rng.choice(_WEATHER),
                      "road": rng.choice(_ROADS), "state": rng.choice(_STATES), "saying": rng.choice(_SAYINGS)}
            paragraph.append(template.format(**values))
        yield paragraph


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def file_paragraphs(path: Path) -> list[list[str]]:
    """Paragraphs (split at blank lines) of sentences from a text file or a folder of ``*.txt`` files."""
    files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    if not files:
        raise CompassError(f"{path}: no .txt files to build the haystack from")
    paragraphs = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CompassError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        for block in re.split(r"\n\s*\n", text):
            sentences = [s for s in _SENTENCE_END.split(" ".join(block.split())) if s]
            if sentences:
                paragraphs.append(sentences)
    if not paragraphs:
        raise CompassError(f"{path}: holds no text to build the haystack from")
    return paragraphs


def paragraphs(source: str, seed: int = 0) -> Iterator[list[str]]:
    """Paragraphs from ``source`` (``"synthetic"`` or a local path), endless: files are repeated."""
    if source == SYNTHETIC and not Path(source).exists():
        yield from synthetic_paragraphs(seed)
        return
    path = Path(source)
    if not path.exists():
        raise CompassError(f"{source}: haystack text not found (a .txt file, a folder of them, "
                           f"or {SYNTHETIC!r} for the built-in generator)")
    loaded = file_paragraphs(path)
    while True:  # long contexts repeat a short text, as the original benchmark repeats its essays
        yield from loaded
