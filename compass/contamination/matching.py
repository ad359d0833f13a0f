"""The three corpus methods, run over all fields ("views") of one dataset's samples at once.

* ``ngram``: every n-gram of a view is looked up in the index (8-grams for views shorter than
  ``LONG_VIEW`` tokens, 13-grams otherwise); coverage as in ``coverage.py``. Multiple-choice
  questions are tried with their options in every order (up to 5 options), the best order kept.
* ``longest``: the documents holding most of the view's matched n-grams are re-read, and the view
  is aligned with each alone (``difflib``'s matching blocks, no junk heuristic): the longest exact
  common span, and the coverage by common spans of at least n tokens within that one document.
  Unlike n-gram hits, which may be stitched together from several documents, this is a copy.
* ``minhash``: the view's token set is MinHashed, its LSH band keys looked up, and the candidate
  documents' passages compared exactly (Jaccard of token sets), see ``minhash.py``.
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import numpy as np

from compass.contamination import CORPUS_METHODS, DEFAULT_METHODS, coverage, minhash
from compass.contamination.coverage import Thresholds
from compass.contamination.fields import SampleText
from compass.contamination.hashing import TokenHasher, ngram_hashes
from compass.contamination.index import CorpusIndex
from compass.contamination.normalize import paragraph_tokens, tokens

METHODS, DEFAULT_METHODS = CORPUS_METHODS, DEFAULT_METHODS
LONG_VIEW = 40  # tokens: views this long use the longer n-gram size
CANDIDATES = 3  # documents re-read per view (longest match); near-duplicates read up to twice as many
MAX_PERMUTED_OPTIONS = 5


@dataclass
class View:
    sample: int
    name: str  # question, answer, question+answer
    variants: list[list[str]]  # token lists; the first in the dataset's order
    informative: list[np.ndarray] = field(default_factory=list)
    # results
    variant: int = 0
    ngram_share: float | None = None  # n-gram coverage
    numbers_match: bool | None = None  # the chosen method's condition: every number of the view matched
    ngram_numbers: bool = True
    n: int = 0  # the n-gram size used for this view
    hit_variants: list[int] = field(default_factory=list)  # variants with any n-gram hit
    run_longest: int = 0  # longest run of matched n-grams, in tokens
    candidates: list[int] = field(default_factory=list)
    longest: int | None = None
    longest_share: float | None = None
    longest_doc: int | None = None
    longest_numbers: bool = True
    near: float | None = None
    near_doc: int | None = None
    near_numbers: bool = True

    @property
    def tokens(self) -> list[str]:
        return self.variants[self.variant]

    def label(self, th: Thresholds) -> str:
        """The span label (the one-document alignment's when it ran: it verifies the n-gram hits, which
        may be stitched from several documents; else the n-gram coverage's), or the near-duplicate
        label when that is worse."""
        out = []
        if self.longest_share is not None:
            out.append(coverage.label(self.longest_share, th.clean_below, th.contaminated_at, self.longest_numbers))
        elif self.ngram_share is not None:
            out.append(coverage.label(self.ngram_share, th.clean_below, th.contaminated_at, self.ngram_numbers))
        if self.near is not None:
            out.append(coverage.label(self.near, th.near_partial_at, th.near_duplicate_at, self.near_numbers))
        return coverage.worst(out)


def views_of(texts: list[SampleText], th: coverage.Thresholds, min_tokens: int) -> list[View]:
    """Each sample's question, answer and (for open questions) question+answer, tokenised; views
    shorter than ``min_tokens`` are kept but never matched (too short to tell a copy from chance)."""
    views: list[View] = []
    per_sample: list[set[str]] = []
    for i, t in enumerate(texts):
        question, answer = tokens(t.question), tokens(t.answer)
        options = [tokens(o) for o in t.options]
        orders = itertools.permutations(options) if 0 < len(options) <= MAX_PERMUTED_OPTIONS else [options]
        variants = list({tuple(question + [tok for o in order for tok in o]): None for order in orders})
        views.append(View(i, "question", [list(v) for v in variants]))
        if answer:
            views.append(View(i, "answer", [answer]))
            if not options:
                views.append(View(i, "question+answer", [question + answer]))
        per_sample.append({*question, *(tok for o in options for tok in o), *answer})
    template = coverage.template_tokens(per_sample, th)
    for v in views:
        v.informative = [np.array([tok not in template for tok in var], dtype=bool) for var in v.variants]
        if len(v.variants[0]) < min_tokens:
            v.variants, v.informative = v.variants[:1], v.informative[:1]
    return views


def ngram_pass(views: list[View], index: CorpusIndex, th: coverage.Thresholds, hasher: TokenHasher) -> None:
    sizes = index.meta.settings.ngram_sizes
    jobs: dict[int, list[tuple[View, int, np.ndarray]]] = {}
    for v in views:
        if len(v.variants[0]) < min(sizes):
            continue
        n = max(sizes) if len(v.variants[0]) >= LONG_VIEW else min(sizes)
        for k, var in enumerate(v.variants):
            jobs.setdefault(n, []).append((v, k, ngram_hashes(hasher.ids(var), n)))
    best: dict[int, tuple[tuple[float, bool], int, np.ndarray, dict[int, float]]] = {}
    hits: dict[int, Counter[int]] = {}  # per view, documents by n-gram hits over all its variants
    for n, items in jobs.items():
        table = f"n{n}"
        lo, hi = index.lookup(table, np.concatenate([h for _, _, h in items]))
        start = 0
        for v, k, h in items:
            a, b = lo[start:start + len(h)], hi[start:start + len(h)]
            start += len(h)
            found = b > a
            toks = v.variants[k]
            cov = coverage.share(coverage.covered(found, n, len(toks), th.skip_budget), v.informative[k])
            exact = coverage.covered(found, n, len(toks), 0)
            score = (cov, bool(exact[coverage.numbers(toks)].all()))
            mine: dict[int, float] = {}
            for i in np.flatnonzero(found).tolist():  # an n-gram in few documents points at its copy
                holders = index.docs(table, int(a[i]), int(b[i]))
                for d in holders:
                    mine[d] = mine.get(d, 0.0) + 1 / len(holders)
            if mine:
                v.hit_variants.append(k)
                hits.setdefault(id(v), Counter()).update(mine)
            v.n = n
            if id(v) not in best or score > best[id(v)][0]:
                best[id(v)] = (score, k, found, mine)
    for v in views:
        if id(v) in best:
            (v.ngram_share, v.ngram_numbers), v.variant, found, mine = best[id(v)]
            v.run_longest = coverage.longest_run(found, v.n)
            own = Counter(mine).most_common(CANDIDATES)  # the best order's documents first
            every = hits.get(id(v), Counter()).most_common(CANDIDATES)  # then those of all orders
            v.candidates = list(dict.fromkeys(d for d, _ in own + every))


class DocCache:
    """Candidate documents, re-read from the corpus once each and tokenised once each."""

    def __init__(self, index: CorpusIndex):
        self.index = index
        self.paragraphs: dict[int, list[list[str]]] = {}

    def load(self, docs: set[int]) -> None:
        missing = [d for d in docs if d not in self.paragraphs]
        if missing:
            for d, text in self.index.doc_texts(missing).items():
                self.paragraphs[d] = paragraph_tokens(text)

    def tokens(self, doc: int) -> list[str]:
        return [tok for p in self.paragraphs[doc] for tok in p]


def longest_pass(views: list[View], docs: DocCache, th: coverage.Thresholds) -> None:
    """Per view, against each candidate document alone: the longest exact common span, and the
    coverage by common spans of at least n tokens (difflib's matching blocks, bridged within the
    skip budget), so no span is stitched from two documents. Multiple-choice views try each option
    order that had n-gram hits. The best (document, order) is kept."""
    docs.load({d for v in views for d in v.candidates})
    for v in views:
        if v.ngram_share is None and not v.candidates:
            continue
        best = (-1.0, False)
        v.longest = 0
        for d in v.candidates:
            b = docs.tokens(d)
            for k in v.hit_variants or [v.variant]:
                a = v.variants[k]
                blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
                starts = np.zeros(len(a), dtype=bool)
                exact = np.zeros(len(a), dtype=bool)
                for blk in blocks:
                    if blk.size >= v.n:
                        starts[blk.a:blk.a + blk.size - v.n + 1] = True
                        exact[blk.a:blk.a + blk.size] = True
                share = coverage.share(coverage.covered(starts, v.n, len(a), th.skip_budget), v.informative[k])
                score = (share, bool(exact[coverage.numbers(a)].all()))
                v.longest = max(v.longest, max(blk.size for blk in blocks))
                if score > best:
                    best, v.longest_doc, v.variant = score, d, k
        v.longest_share, v.longest_numbers = max(best[0], 0.0), best[1]  # no candidate document: nothing covered


def neardup_pass(views: list[View], index: CorpusIndex, docs: DocCache, hasher: TokenHasher, min_tokens: int) -> None:
    wanted = [v for v in views if len(v.variants[0]) >= min_tokens]
    if not wanted:
        return
    sigs = minhash.signatures(np.concatenate([hasher.ids(v.variants[0]) for v in wanted]),
                              _spans([len(v.variants[0]) for v in wanted]))
    keys = minhash.band_keys(sigs)
    buckets = index.lookup_all("lsh", keys.reshape(-1))
    per_view: list[list[int]] = []
    for i in range(len(wanted)):
        hits = Counter(d for b in buckets[i * minhash.BANDS:(i + 1) * minhash.BANDS] for d in b)
        per_view.append([d for d, _ in hits.most_common(2 * CANDIDATES)])
    docs.load({d for c in per_view for d in c})
    for v, cands in zip(wanted, per_view):
        v.near = 0.0
        mine = set(v.variants[0])
        for d in cands:
            paras = docs.paragraphs[d]
            flat = [tok for p in paras for tok in p]
            for lo, hi in minhash.passages([len(p) for p in paras]):
                theirs = set(flat[lo:hi])
                sim = minhash.jaccard(mine, theirs)
                if sim > v.near:
                    v.near, v.near_doc = sim, d
                    v.near_numbers = _numbers(v.variants[0]) == _numbers(flat[lo:hi])


def _numbers(toks: list[str]) -> Counter:
    return Counter(t for t in toks if t.isdigit())


def _spans(lengths: list[int]) -> list[tuple[int, int]]:
    ends = np.cumsum(lengths).tolist()
    return [(e - n, e) for e, n in zip(ends, lengths)]
