"""Statistics as pure functions: intervals for one run's metrics (``intervals``), paired tests between
two runs (``paired``) and the paired comparison that picks among them for a dataset (``comparison``),
used by evaluation, summaries and the gate."""
