"""Contamination checks: how much of each benchmark a corpus contains (docs/contamination.md).

Kept free of imports so the command line can read these names cheaply."""

CORPUS_METHODS = ("ngram", "longest", "minhash")
# minhash also flags different items of one template, so it is opt-in (docs/contamination.md).
DEFAULT_METHODS = ("ngram", "longest")
