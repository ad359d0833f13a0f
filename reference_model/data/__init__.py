"""Pretraining data pipeline: sources -> format -> clean -> dedup -> safety -> quality -> pack."""
