# Needle-in-a-haystack leaderboard row: single- and multi-needle retrieval averaged (each dataset's
# own row stays; the length x depth heatmaps are in the HTML report, from each result's "grid").
# Use:  summarizer = dict(summary_groups=needle_summary_groups)   (or needle_mini_summary_groups)
needle_summary_groups = [dict(name="needle-avg", subsets=["needle", "needle-multi3"])]
needle_mini_summary_groups = [dict(name="needle-mini-avg", subsets=["needle-mini", "needle-multi3-mini"])]
