"""The model method for one dataset: each sample's item text and its matched reference scored."""
from __future__ import annotations

from compass.contamination.fields import SampleText
from compass.contamination.model_side import number_pool, reference_text, score_texts
from compass.records import ModelEvidence


def _value(x: float) -> float | None:
    return None if x != x else round(x, 5)  # NaN (no token to score) is not JSON


def model_evidence(backend, texts: list[SampleText]) -> list[ModelEvidence]:
    """Min-K% and Min-K%++ of each sample's question (options and answer left out: changing a number
    there would break the item's arithmetic and make the reference implausible for any model) under
    ``backend`` (a loaded transformers model), and Min-K%++ of its matched reference where it has numbers."""
    items = [t.question for t in texts]
    pool = number_pool(items)
    refs = [reference_text(item, t.id, pool) for item, t in zip(items, texts)]
    with_ref = [i for i, r in enumerate(refs) if r is not None]
    kw = dict(batch_size=backend.cfg.batch_size, max_tokens=backend.cfg.max_seq_len)
    scores = score_texts(backend.model, backend.tokenizer, items, **kw)
    ref_texts = [r for r in refs if r is not None]
    ref_scores = dict(zip(with_ref, score_texts(backend.model, backend.tokenizer, ref_texts, **kw)))
    return [ModelEvidence(t.id, backend.cfg.abbr, s.tokens, _value(s.min_k), _value(s.min_k_pp),
                          _value(ref_scores[i].min_k_pp) if i in ref_scores else None)
            for i, (t, s) in enumerate(zip(texts, scores))]
