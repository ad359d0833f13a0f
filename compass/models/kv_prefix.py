"""A token prefix shared by many requests (few-shot examples) runs once; its KV cache is reused."""
from __future__ import annotations

import inspect

import torch
from transformers import DynamicCache

MIN_SHARED_PREFIX = 32  # tokens; shorter shared prefixes are not worth a separate forward pass


def prefix_groups(contexts: list[list[int]], min_len: int = MIN_SHARED_PREFIX) -> list[tuple[list[int], int]]:
    """Split requests into (indices, shared prefix length) groups that minimise tokens computed.

    In lexicographic order, contexts sharing a prefix are contiguous. A range either runs as one
    group over its common prefix, or splits where that prefix ends and each part does its best;
    whichever costs fewer tokens wins. Requests sharing nothing worth it form one group with
    prefix 0, so they still batch together. The prefix always leaves each context at least its
    last token, whose logits predict the first continuation token.
    """
    order = sorted(range(len(contexts)), key=lambda i: contexts[i])
    lcp = [common_prefix(contexts[a], contexts[b]) for a, b in zip(order, order[1:])]
    shared: list[tuple[list[int], int]] = []
    alone: list[int] = []

    def best(lo: int, hi: int, depth: int) -> tuple[int, list[tuple[int, int, int]]]:
        """(tokens computed, [(lo, hi, prefix)]) for the sorted range [lo, hi)."""
        lengths = [len(contexts[order[k]]) for k in range(lo, hi)]
        if hi - lo == 1:
            return lengths[0], [(lo, hi, 0)]
        common = min(lcp[lo:hi - 1])
        prefix = min(common, min(lengths) - 1)
        whole = prefix + sum(lengths) - prefix * len(lengths) if prefix >= min_len else sum(lengths)
        if depth > 200:  # pathological nesting: stop refining
            return whole, [(lo, hi, prefix if prefix >= min_len else 0)]
        cuts = [lo] + [k + 1 for k in range(lo, hi - 1) if lcp[k] == common] + [hi]
        parts = [best(a, b, depth + 1) for a, b in zip(cuts, cuts[1:])]
        split = sum(cost for cost, _ in parts)
        if prefix >= min_len and whole <= split:
            return whole, [(lo, hi, prefix)]
        return split, [g for _, groups in parts for g in groups]

    if order:
        for lo, hi, prefix in best(0, len(order), 0)[1]:
            members = order[lo:hi]
            if prefix and len(members) > 1:
                shared.append((sorted(members), prefix))
            else:
                alone.extend(members)
    return shared + ([(sorted(alone), 0)] if alone else [])


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def expand_cache(cache, n: int) -> DynamicCache:
    """The prefix's cache repeated for ``n`` rows, as views: the prefix itself is never modified."""
    return DynamicCache(ddp_cache_data=[(layer.keys.expand(n, -1, -1, -1), layer.values.expand(n, -1, -1, -1))
                                        for layer in cache.layers])


def prefix_cache(model, prefix: list[int]):
    """The KV cache of a shared prefix, or None when this model's cache cannot be shared."""
    device = next(model.parameters()).device
    cache = cache_of(model(input_ids=torch.tensor([prefix], device=device), use_cache=True,
                           **last_logits_only(model)))
    return cache if hasattr(cache, "layers") else None  # e.g. remote-code models with tuple caches


def with_cache(model, cache) -> dict:
    """The forward keyword that passes a KV cache: ``cache`` in transformers 5.2x, ``past_key_values``
    before (still accepted by 5.2x, with a deprecation warning per call site)."""
    forward = type(model).forward  # the class's: a test may wrap the instance's with (*args, **kwargs)
    return {"cache" if "cache" in inspect.signature(forward).parameters else "past_key_values": cache}


def cache_of(out):
    """The KV cache a forward returned, under either name."""
    return out.cache if "cache" in out else out.past_key_values


def last_logits_only(model) -> dict:
    """Ask the model for the last position's logits only, where it supports that (rows x vocab saved)."""
    return {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
