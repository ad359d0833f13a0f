"""Model-side evidence without a corpus: Min-K% and Min-K%++ log-probability statistics.

* Min-K% (Shi et al. 2024, "Detecting pretraining data from large language models"): the mean of
  the lowest k% per-token log-probs log p(x_t | x_<t) of a text; seen texts have fewer surprising tokens.
* Min-K%++ (Zhang et al. 2024): each token's log-prob is standardised by the model's own
  distribution at that position, (log p(x_t) - mu_t) / sigma_t with mu_t = E_z[log p(z)] and
  sigma_t^2 = Var_z[log p(z)] under z ~ p(. | x_<t); a seen text sits near a local maximum of the
  likelihood, so its tokens score high. The score is the mean of the lowest k% of these.

Both are compared with a *matched reference*: the same question with every number replaced by
another of as many digits drawn from the benchmark's own numbers (seeded by the sample id), a text
the model cannot have seen. Item minus reference, averaged over a benchmark with a bootstrap CI, is
the evidence reported. The reference is not perfectly matched (a drawn number can be less
predictable than the original: ``1, 2, 3``), so the difference has a bias of its own; a model never
trained on the items shows it (the null, in docs/benchmarks.md). It is evidence, never proof, and
never a label: membership inference on small models and short texts is weak (docs/benchmarks.md
reports its AUROC on a planted set).
"""
from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass

import numpy as np

K_SHARE = 0.2
_INTEGER = re.compile(r"\d+")


@dataclass(frozen=True)
class Evidence:
    min_k: float
    min_k_pp: float
    tokens: int


def number_pool(texts: list[str]) -> dict[int, list[str]]:
    """The integers of a benchmark's texts by digit count: references draw their numbers from here, so
    they keep the benchmark's own number distribution (uniform random numbers would be less likely
    under any model that has seen such items, and bias the difference)."""
    pool: dict[int, list[str]] = {}
    for text in texts:
        for m in _INTEGER.finditer(text):
            pool.setdefault(len(m.group()), []).append(m.group())
    return pool


def reference_text(text: str, key: str, pool: dict[int, list[str]] | None = None) -> str | None:
    """``text`` with each integer replaced by a different one of as many digits (from ``pool`` where it
    has another, else uniform); None if it has none."""
    if not _INTEGER.search(text):
        return None
    rng = random.Random(zlib.crc32(key.encode()))

    def swap(m: re.Match) -> str:
        digits = len(m.group())
        others = [x for x in (pool or {}).get(digits, []) if x != m.group()]
        if others:
            return rng.choice(others)
        low = 10 ** (digits - 1) if digits > 1 else 0
        if 10**digits - low < 2:
            return m.group()
        while True:
            new = str(rng.randint(low, 10**digits - 1))
            if new != m.group():
                return new

    return _INTEGER.sub(swap, text)


def lowest_mean(values: np.ndarray, k_share: float = K_SHARE) -> float:
    if len(values) == 0:
        return float("nan")
    k = max(1, round(k_share * len(values)))
    return float(np.sort(values)[:k].mean())


def score_texts(model, tokenizer, texts: list[str], *, batch_size: int = 8, max_tokens: int = 1024,
                k_share: float = K_SHARE) -> list[Evidence]:
    """Min-K% and Min-K%++ of each text under a transformers causal LM (one forward pass per batch)."""
    import torch

    device = next(model.parameters()).device
    out: list[Evidence] = []
    for start in range(0, len(texts), batch_size):
        enc = [tokenizer(t, add_special_tokens=True)["input_ids"][:max_tokens] for t in texts[start:start + batch_size]]
        width = max(len(e) for e in enc)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([e + [pad] * (width - len(e)) for e in enc], device=device)
        mask = torch.tensor([[1] * len(e) + [0] * (width - len(e)) for e in enc], device=device)
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            logp = torch.log_softmax(logits, dim=-1)
            target = ids[:, 1:]
            token_logp = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            probs = logp.exp()
            mu = (probs * logp).sum(-1)
            sigma = ((probs * logp.square()).sum(-1) - mu.square()).clamp_min(1e-12).sqrt()
            standard = (token_logp - mu) / sigma
        for row, e in enumerate(enc):
            n = len(e) - 1
            lp, pp = token_logp[row, :n].cpu().numpy(), standard[row, :n].cpu().numpy()
            out.append(Evidence(lowest_mean(lp, k_share), lowest_mean(pp, k_share), n))
    return out


def auroc(positives: list[float], negatives: list[float]) -> float:
    """P(score of a random positive > a random negative), ties counting half (Mann-Whitney U / n1 n2)."""
    pos, neg = np.asarray(positives, dtype=float), np.asarray(negatives, dtype=float)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = _ranks(np.concatenate([pos, neg]))
    u = ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=float)
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks
