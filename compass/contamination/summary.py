"""Per dataset: how much of it a corpus contains (with a Wilson CI), and the model-side evidence."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass

from compass.contamination.coverage import LABELS, Thresholds
from compass.contamination.model_side import auroc
from compass.records import SCHEMA_VERSION, ContaminationLabel, ModelEvidence
from compass.stats.intervals import bootstrap_mean, wilson


@dataclass(frozen=True)
class ModelSummary:
    model: str
    n: int  # samples with a reference (a number to change)
    mean_minus_reference: float | None  # Min-K%++ of the items minus their references, averaged
    ci95: list[float] | None  # bootstrap
    auroc_vs_labels: float | None = None  # Min-K%++ separating corpus-contaminated from clean samples


@dataclass(frozen=True)
class ContaminationSummary:
    """One dataset checked against a corpus (``<out>/<dataset>.summary.json``)."""

    dataset: str
    n: int
    counts: dict[str, int]  # samples per label, and "unchecked" (no field long enough to check)
    contaminated_share: float | None  # of the checked samples; None: no corpus method ran
    ci95: list[float] | None  # Wilson interval of contaminated_share
    methods: list[str]
    index: str | None  # the index directory
    corpus: list[str]  # its corpus files
    thresholds: dict[str, float]
    model: ModelSummary | None = None
    schema_version: int = SCHEMA_VERSION


def summarize(dataset: str, labels: list[ContaminationLabel] | None, evidence: list[ModelEvidence] | None,
              methods: list[str], index: str | None, corpus: list[str], thresholds: Thresholds,
              n: int) -> ContaminationSummary:
    counts: Counter[str] = Counter(r.label for r in labels or [])
    share = ci = None
    if labels is not None:
        checked = n - counts["unchecked"]  # an unchecked sample is evidence of nothing, either way
        share = counts["contaminated"] / checked if checked else 0.0
        ci = [round(x, 4) for x in wilson(counts["contaminated"], checked)]
    return ContaminationSummary(
        dataset, n, {k: counts[k] for k in (*LABELS, "unchecked")}, None if share is None else round(share, 4), ci,
        methods, index, corpus, {k: float(v) for k, v in asdict(thresholds).items()},
        _model(evidence, labels) if evidence else None)


def _model(evidence: list[ModelEvidence], labels: list[ContaminationLabel] | None) -> ModelSummary:
    diffs = [e.min_k_pp - e.reference_min_k_pp for e in evidence
             if e.min_k_pp is not None and e.reference_min_k_pp is not None]
    mean = round(sum(diffs) / len(diffs), 4) if diffs else None
    ci = [round(x, 4) for x in bootstrap_mean(diffs)] if len(diffs) > 1 else None
    area = None
    if labels is not None:
        label_of = {r.id: r.label for r in labels}
        pos = [e.min_k_pp for e in evidence if e.min_k_pp is not None and label_of.get(e.id) == "contaminated"]
        neg = [e.min_k_pp for e in evidence if e.min_k_pp is not None and label_of.get(e.id) == "clean"]
        value = auroc(pos, neg)
        area = None if math.isnan(value) else round(value, 4)
    return ModelSummary(evidence[0].model, len(diffs), mean, ci, area)


def table(summaries: list[ContaminationSummary]) -> str:
    """The text table ``compass contamination`` prints."""
    rows: list[tuple[str, ...]] = [("dataset", "n", "clean", "partial", "contaminated", "unchecked", "% contaminated [95% CI]",
                                    "Min-K%++ - ref [95% CI]")]
    for s in summaries:
        pct = "-" if s.contaminated_share is None or s.ci95 is None else \
            f"{100 * s.contaminated_share:.1f} [{100 * s.ci95[0]:.1f}, {100 * s.ci95[1]:.1f}]"
        model = "-"
        if s.model and s.model.mean_minus_reference is not None:
            model = f"{s.model.mean_minus_reference:+.3f}" + (f" [{s.model.ci95[0]:+.3f}, {s.model.ci95[1]:+.3f}]"
                                                               if s.model.ci95 else "")
        rows.append((s.dataset, str(s.n), *(str(s.counts[k]) for k in (*LABELS, "unchecked")), pct, model))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

