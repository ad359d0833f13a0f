"""Check one dataset's samples against a corpus index: a typed label per sample."""
from __future__ import annotations

from dataclasses import dataclass, field

from compass.contamination import coverage, matching
from compass.contamination.fields import SampleText
from compass.contamination.hashing import TokenHasher
from compass.contamination.index import CorpusIndex
from compass.errors import CompassError
from compass.records import ContaminationLabel, FieldCheck

_FIELD_ORDER = ("question", "answer", "question+answer")


@dataclass(frozen=True)
class CheckSettings:
    methods: tuple[str, ...] = matching.DEFAULT_METHODS
    thresholds: coverage.Thresholds = field(default_factory=coverage.Thresholds)

    def validate(self, index: CorpusIndex) -> None:
        unknown = [m for m in self.methods if m not in matching.METHODS]
        if unknown or not self.methods:
            raise CompassError(f"--methods: unknown method {unknown[0] if unknown else '(none)'!r}; choose from "
                               f"{', '.join(matching.METHODS)} (and model)")
        if "minhash" in self.methods and not index.has("lsh"):
            raise CompassError(f"{index.root}: this index has no near-duplicate table; rebuild it with near-duplicates "
                               f"or leave minhash out of --methods")


def check_dataset(texts: list[SampleText], index: CorpusIndex, settings: CheckSettings) -> list[ContaminationLabel]:
    settings.validate(index)
    th, methods = settings.thresholds, settings.methods
    min_tokens = min(index.meta.settings.ngram_sizes)
    hasher = TokenHasher()
    views = matching.views_of(texts, th, min_tokens)
    matching.ngram_pass(views, index, th, hasher)  # also finds the longest method's candidate documents
    docs = matching.DocCache(index)
    if "longest" in methods:
        matching.longest_pass(views, docs, th)
    if "minhash" in methods:
        matching.neardup_pass(views, index, docs, hasher, min_tokens)
    if "ngram" not in methods:
        for v in views:
            v.ngram_share = None
    doc_ids = index.doc_ids(sorted({d for v in views for d in (_document(v, th),) if d is not None}))
    by_sample: dict[int, list[matching.View]] = {}
    for v in views:
        by_sample.setdefault(v.sample, []).append(v)
    return [_record(t, by_sample.get(i, []), methods, th, doc_ids) for i, t in enumerate(texts)]


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _strength(v: matching.View) -> float:
    return max(x for x in (v.ngram_share, v.longest_share, v.near, 0.0) if x is not None)


def _document(v: matching.View, th: coverage.Thresholds) -> int | None:
    """The document behind the view's strongest evidence."""
    near_label = coverage.label(v.near, th.near_partial_at, th.near_duplicate_at) if v.near is not None else "clean"
    span = max(x for x in (v.ngram_share, v.longest_share, 0.0) if x is not None)
    span_label = coverage.label(span, th.clean_below, th.contaminated_at)
    if v.near_doc is not None and coverage.LABELS.index(near_label) > coverage.LABELS.index(span_label):
        return v.near_doc
    if v.longest_doc is not None and v.longest:
        return v.longest_doc
    return v.candidates[0] if v.candidates else v.near_doc


def _record(text: SampleText, views: list[matching.View], methods: tuple[str, ...], th: coverage.Thresholds,
            doc_ids: dict[int, str]) -> ContaminationLabel:
    checks: dict[str, FieldCheck] = {}
    labels: dict[str, str] = {}
    for v in views:
        labels[v.name] = v.label(th)
        doc = _document(v, th)
        longest = v.longest if "longest" in methods else (v.run_longest if v.ngram_share is not None else None)
        checks[v.name] = FieldCheck(len(v.tokens), labels[v.name],  # type: ignore[arg-type]
                                     coverage=_rounded(v.ngram_share), document_coverage=_rounded(v.longest_share),
                                     longest_match=longest, near_duplicate=_rounded(v.near),
                                     document=doc_ids.get(doc) if doc is not None else None)
    # Checked: some method measured a field (fields under the n-gram length are never matched).
    checked = any(x is not None for v in views for x in (v.ngram_share, v.longest_share, v.near))
    deciding = max(views, key=lambda v: (coverage.LABELS.index(labels[v.name]), _strength(v),
                                         -_FIELD_ORDER.index(v.name)), default=None)
    near = [v.near for v in views if v.near is not None]
    top = checks[deciding.name] if deciding else None
    value = 0.0 if deciding is None else (deciding.longest_share if deciding.longest_share is not None else
                                          deciding.ngram_share or 0.0)
    return ContaminationLabel(
        id=text.id, label=labels[deciding.name] if checked and deciding else "unchecked",  # type: ignore[arg-type]
        coverage=round(value, 4), longest_match=max((c.longest_match or 0 for c in checks.values()), default=0),
        methods=list(methods), field=deciding.name if deciding and labels[deciding.name] != "clean" else None,
        document=top.document if top and top.label != "clean" else None,
        near_duplicate=round(max(near), 4) if near else None, group=text.group, checks=checks)
