"""`compass gate`: a paired regression gate between two evaluated runs (docs/gate.md).

    locate.py   where a side's scored files are (run directory, model abbr, datasets)
    pair.py     read each dataset's outcomes (compass.records) and match the samples by id
    analyse.py  test each dataset (compass.stats), Holm, verdicts: ``compare()`` is the whole gate
    render.py   text, JSON, Markdown and JUnit reports
    report.py   the values passed from analysis to rendering
    args.py, cli.py   the command line (args.py stays cheap to import: no numpy)

Nothing is imported here, so that ``compass.gate.args`` loads without the statistics.
"""
