"""A labelled quality set, built from what this Python ships and what this module generates.

Good (label 1): natural prose, the stdlib's docstrings joined per file (as the ``stdlib`` source
reads them) and the language reference topics of ``pydoc_data``; and code, the first lines of stdlib
modules. Bad (label 0), generated: word salad (random words, words drawn at the corpus' own word
frequencies with sentence punctuation, a document's words shuffled; code with its lines shuffled),
boilerplate (navigation, cookie banners, footers, link lists, share bars, lorem ipsum) and
repetition (a sentence, a paragraph or a code block repeated, degenerate loops). Items carry a
``split`` (dev/test by a hash of their id) so that anything fit on dev is measured on test.
"""
from __future__ import annotations

import ast
import bisect
import hashlib
import random
import sysconfig
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .sources import docstrings

KINDS_GOOD = ("prose", "code")
KINDS_BAD = ("salad", "boilerplate", "repetition")


@dataclass
class Item:
    id: str
    text: str
    label: int        # 1 good, 0 bad
    category: str     # prose, code, salad, boilerplate, repetition
    kind: str         # prose or code: which scorer the pipeline would use
    split: str        # dev or test


def _split(key: str) -> str:
    return "dev" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "test"


def _python_files(root: Path, limit: int, seed: int) -> list[Path]:
    files = [p for p in sorted(root.rglob("*.py"))
             if not any(part in ("test", "tests", "idlelib", "site-packages", "__pycache__")
                        for part in p.relative_to(root).parts)]
    random.Random(seed).shuffle(files)  # many packages, not the alphabetically first few
    return files[:limit]


def natural(n_prose: int, n_code: int, root: str = "", seed: int = 0) -> tuple[list[str], list[str]]:
    """Docstrings and code of the Python files under ``root`` (the stdlib by default, then also the
    ``pydoc_data`` topics); another root (e.g. site-packages) gives a set from other authors."""
    prose: list[str] = []
    code: list[str] = []
    for path in _python_files(Path(root or sysconfig.get_paths()["stdlib"]), 4000, seed):
        try:
            src = path.read_text(encoding="utf-8")
            tree = ast.parse(src)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        doc = docstrings(tree)[:4000]
        if len(doc.split()) >= 50 and len(prose) < n_prose:
            prose.append(doc)
        lines = src.split("\n")
        if len(lines) >= 40 and len(code) < n_code:
            code.append("\n".join(lines[:150]))
        if len(prose) >= n_prose and len(code) >= n_code:
            break
    if not root:
        try:
            from pydoc_data.topics import topics
            prose += [t[:4000] for _, t in sorted(topics.items()) if len(t.split()) >= 100]
        except ImportError:  # some distributions leave pydoc_data out
            pass
    return prose, code


def _sentences(rng: random.Random, words: list[str], lo: int = 6, hi: int = 18) -> str:
    out, i = [], 0
    while i < len(words):
        k = rng.randint(lo, hi)
        chunk = words[i:i + k]
        out.append(" ".join([chunk[0].capitalize(), *chunk[1:]]) + rng.choice([".", ".", ".", "?", "!", ","]))
        i += k
    text = " ".join(out)
    return "\n".join(text[j:j + 76] for j in range(0, len(text), 76)) if rng.random() < 0.5 else text


def salad(rng: random.Random, prose: list[str], code: list[str], n: int) -> list[tuple[str, str]]:
    vocab_counts = Counter(w for doc in prose for w in doc.lower().split() if w.isalpha())
    vocab = sorted(vocab_counts)
    weights = [vocab_counts[w] for w in vocab]
    out = []
    for i in range(n):
        flavour = i % 4
        length = rng.randint(60, 400)
        if flavour == 0:    # uniform over the vocabulary: few function words
            out.append((_sentences(rng, [rng.choice(vocab) for _ in range(length)]), "prose"))
        elif flavour == 1:  # at the corpus' word frequencies: function words as often as in text
            out.append((_sentences(rng, rng.choices(vocab, weights, k=length)), "prose"))
        elif flavour == 2:  # one document's words, shuffled
            words = rng.choice(prose).split()
            rng.shuffle(words)
            out.append((" ".join(words), "prose"))
        else:               # a module's lines, shuffled
            lines = rng.choice(code).split("\n")
            rng.shuffle(lines)
            out.append(("\n".join(lines), "code"))
    return out


_NAV = ["Home", "About", "About us", "Products", "Services", "Blog", "News", "Contact", "Careers", "Pricing", "FAQ",
        "Support", "Login", "Sign up", "Shop", "Cart", "Search", "Menu", "Events", "Press", "Partners", "Docs"]
_BOILER = ["This website uses cookies to improve your experience. Accept all", "We use cookies. Learn more",
           "By continuing to browse you agree to our Terms of Use and Privacy Policy",
           "Please enable JavaScript to view this page", "Copyright © {y} {c}. All rights reserved.",
           "© {y} {c} Inc.", "Share on Facebook", "Share on Twitter", "Follow us", "Subscribe to our newsletter",
           "Read more", "Back to top", "Skip to main content", "Click here to download", "Posted in {t}",
           "Tags: {t}, {t2}", "Related posts", "Previous post", "Next post", "Leave a comment", "Log in to reply",
           "Page 1 of {p}", "1 2 3 ... {p} Next »", "Terms of Service | Privacy Policy | Sitemap"]
_TOPICS = ["News", "Sports", "Travel", "Tech", "Food", "Health", "Business", "Music", "Science", "Style"]
_COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne"]
_LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore "
          "magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo "
          "consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur")


def boilerplate(rng: random.Random, n: int) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        lines = []
        for _ in range(rng.randint(8, 40)):
            roll = rng.random()
            if roll < 0.35:
                lines.append(rng.choice([" | ", " · ", "  ", " / "]).join(rng.sample(_NAV, rng.randint(3, 8))))
            elif roll < 0.8:
                lines.append(rng.choice(_BOILER).format(y=rng.randint(2005, 2026), c=rng.choice(_COMPANIES),
                                                        t=rng.choice(_TOPICS), t2=rng.choice(_TOPICS),
                                                        p=rng.randint(2, 40)))
            else:
                lines.append(f"- {rng.choice(_TOPICS)}: {rng.choice(_NAV)} ({rng.randint(1, 300)})")
        if i % 5 == 0:  # placeholder text pages
            words = [rng.choice(_LOREM.split()) for _ in range(rng.randint(60, 200))]
            lines.insert(rng.randrange(len(lines)), _sentences(rng, words))
        out.append(("\n".join(lines), "prose"))
    return out


def repetition(rng: random.Random, prose: list[str], code: list[str], n: int) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        flavour = i % 4
        if flavour == 0:    # one sentence, again and again
            sentence = rng.choice([s for s in rng.choice(prose).split(". ") if len(s.split()) > 4] or ["It is."])
            out.append((" ".join([sentence.strip() + "."] * rng.randint(6, 30)), "prose"))
        elif flavour == 1:  # a paragraph pasted several times
            para = rng.choice(prose).split("\n\n")[0]
            out.append(("\n\n".join([para] * rng.randint(3, 8)), "prose"))
        elif flavour == 2:  # a degenerate generation loop after a real opening
            doc = rng.choice(prose).split()
            loop = doc[rng.randrange(max(len(doc) - 6, 1)):][:rng.randint(2, 6)] or ["the"]
            out.append((" ".join(doc[:rng.randint(10, 40)] + loop * rng.randint(15, 60)), "prose"))
        else:               # a code block repeated
            lines = rng.choice(code).split("\n")
            start = rng.randrange(max(len(lines) - 12, 1))
            block = "\n".join(lines[start:start + rng.randint(4, 12)])
            out.append(("\n".join([block] * rng.randint(4, 12)), "code"))
    return out


def labelled_set(n_per_category: int = 240, seed: int = 0, root: str = "") -> list[Item]:
    """``n_per_category`` items of each of prose, code, salad, boilerplate, repetition (fewer good
    ones only if ``root`` holds fewer), good ones from the stdlib or from the Python files under ``root``."""
    rng = random.Random(seed)
    prose, code = natural(n_per_category, n_per_category, root, seed)
    rng.shuffle(prose)
    prose = prose[:n_per_category]
    items: list[Item] = []

    def add(category: str, label: int, rows) -> None:
        for i, (text, kind) in enumerate(rows):
            key = f"{category}/{i}"
            items.append(Item(key, text, label, category, kind, _split(key)))

    add("prose", 1, [(t, "prose") for t in prose])
    add("code", 1, [(t, "code") for t in code])
    add("salad", 0, salad(rng, prose, code, n_per_category))
    add("boilerplate", 0, boilerplate(rng, n_per_category))
    add("repetition", 0, repetition(rng, prose, code, n_per_category))
    return items


def auroc(scores: list[float], labels: list[int]) -> float:
    """Probability that a random good item scores above a random bad one (ties count half)."""
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    order = sorted(neg)
    total = 0.0
    for s in pos:
        lo, hi = bisect.bisect_left(order, s), bisect.bisect_right(order, s)
        total += lo + 0.5 * (hi - lo)
    return total / (len(pos) * len(neg))
