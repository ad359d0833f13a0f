"""Model-side evidence: Min-K% / Min-K%++ as defined, independent of batching, matched references, and
their AUROC on a planted set computed (issue 15, must-show 4): a tiny real Llama model, trained for a
few steps on the planted copies of half a mini benchmark, separates those items from the others."""
from __future__ import annotations

import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from compass.config import ModelConfig
from compass.contamination.evidence import model_evidence
from compass.contamination.minisets import write_minisets
from compass.contamination.model_side import auroc, lowest_mean, number_pool, reference_text, score_texts
from compass.contamination.planting import render
from compass.models.hf import HFCausalLM


@pytest.fixture()
def tiny(tiny_model):
    return AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval(), \
        AutoTokenizer.from_pretrained(tiny_model)


def test_min_k_and_min_k_pp_follow_their_definitions_in_any_batch(tiny):
    model, tok = tiny
    texts = ["Ana has 13 cards and buys 4 more.", "What is 40 - 18?", "The capital of Kakano is Pafeon, a city."]
    ids = torch.tensor([tok(texts[0])["input_ids"]])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, :-1].double(), -1)
    target = ids[0, 1:]
    lp = logp[torch.arange(len(target)), target]
    mu = (logp.exp() * logp).sum(-1)
    sigma = ((logp.exp() * logp**2).sum(-1) - mu**2).sqrt()
    k = max(1, round(0.2 * len(target)))
    want_k, want_pp = lp.sort().values[:k].mean().item(), ((lp - mu) / sigma).sort().values[:k].mean().item()
    alone = score_texts(model, tok, texts[:1])[0]
    batched = score_texts(model, tok, texts, batch_size=3)  # padded with the longer texts
    assert alone.tokens == batched[0].tokens == len(target)
    for got in (alone, batched[0]):
        assert got.min_k == pytest.approx(want_k, abs=1e-4) and got.min_k_pp == pytest.approx(want_pp, abs=1e-4)
    assert [b.min_k_pp for b in batched[1:]] == pytest.approx([e.min_k_pp for e in score_texts(model, tok, texts[1:])],
                                                              abs=1e-4)
    assert lowest_mean(torch.tensor([]).numpy()) != lowest_mean(torch.tensor([]).numpy())  # NaN: nothing to score


def test_references_change_every_number_and_only_numbers():
    pool = number_pool(["Ana has 13 cards and 4 pens.", "Ben has 27 cards and 9 pens.", "Cy has 130 pens."])
    ref = reference_text("Ana has 13 cards and 4 pens.", "id-1", pool)
    assert ref is not None and ref != "Ana has 13 cards and 4 pens."
    words, ref_words = ["Ana", "has", "13", "cards", "and", "4", "pens."], ref.split()
    assert [w for w in ref_words if not w[0].isdigit()] == [w for w in words if not w[0].isdigit()]
    assert ref_words[2] == "27" and ref_words[5] == "9"  # drawn from the benchmark's own numbers
    assert reference_text("Ana has 13 cards.", "id-1", pool) == reference_text("Ana has 13 cards.", "id-1", pool)
    assert reference_text("No numbers here.", "id-2", pool) is None


def test_auroc_counts_ties_half():
    assert auroc([3, 2, 2], [1, 2, 0]) == pytest.approx(8 / 9)
    assert auroc([1, 1], [1, 1]) == 0.5 and auroc([2], [1]) == 1.0 and auroc([0], [1]) == 0.0
    assert auroc([], [1]) != auroc([], [1])  # NaN without positives


def test_auroc_on_a_planted_set_is_computed(tmp_path, tiny_model):
    backend = HFCausalLM(ModelConfig(abbr="tiny", path=str(tiny_model), dtype="float32", device="cpu").validate("m"))
    model, tok = backend.model, backend.tokenizer
    items = write_minisets(tmp_path)["gsm8k-mini"].items[:40]
    planted = set(random.Random(0).sample(range(len(items)), 20))
    copies = [render(items[i], random.Random(i)) for i in sorted(planted)]

    def area() -> float:
        scores = {e.id: e.min_k_pp or 0.0 for e in model_evidence(backend, items)}  # every question has tokens
        return auroc([scores[items[i].id] for i in planted], [scores[t.id] for k, t in enumerate(items) if k not in planted])

    before = area()
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = tok(copies, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    model.train()
    for _ in range(30):
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    after = area()
    assert 0.0 <= before <= 1.0 and 0.0 <= after <= 1.0
    # Stable here (fixed seed, 30 steps on 20 short texts: 1.0 on this machine); a weak model on a real
    # corpus is much lower (docs/benchmarks.md).
    assert after > 0.8 and after > before
