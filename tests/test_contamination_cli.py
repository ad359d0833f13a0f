"""``compass contamination`` end to end: labels and summaries written as typed records, the index built
once and reused until the corpus changes, model-side evidence, one-line errors, and runs beside it."""
from __future__ import annotations

import json
import pprint
from pathlib import Path

import pytest

from compass import records
from compass.contamination.minisets import dataset_dicts, write_minisets
from compass.contamination.planting import plant_corpus
from compass.records import ContaminationLabel, ModelEvidence
from compass.store import RunDir
from tests.helpers import compass, error_line


@pytest.fixture()
def project(tmp_path, tiny_model):
    sets = write_minisets(tmp_path / "data")
    corpus = plant_corpus(tmp_path / "corpus" / "web.jsonl", {k: s.items for k, s in sets.items()}, filler_docs=20)
    datasets = [d for k, d in dataset_dicts(tmp_path / "data").items() if k in ("mmlu-mini", "gsm8k-mini")]
    model = dict(abbr="tiny", path=str(tiny_model), max_seq_len=256, max_out_len=16, batch_size=8)
    (tmp_path / "cfg.py").write_text(f"models = {pprint.pformat([model])}\ndatasets = {pprint.pformat(datasets)}\n")
    return tmp_path, sets, corpus


def test_labels_summaries_and_index_reuse(project):
    tmp, sets, corpus = project
    proc = compass("contamination", "cfg.py", "--corpus", "corpus/", "-q", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    assert "mmlu-mini" in proc.stdout and "% contaminated" in proc.stdout
    out = tmp / "outputs" / "cfg" / "contamination"
    for abbr in ("mmlu-mini", "gsm8k-mini"):
        labels = records.read_lines(out / f"{abbr}.jsonl", ContaminationLabel)
        assert [r.id for r in labels] == [t.id for t in sets[abbr].items]
        shares = [r.coverage for r in labels] + [c.document_coverage for r in labels for c in r.checks.values()
                                                 if c.document_coverage is not None]
        assert all(0.0 <= x <= 1.0 for x in shares)  # a field with no candidate document is 0, not -1
        flagged = {r.id for r in labels if r.label == "contaminated"}
        assert flagged == corpus.truth(sets[abbr].items)
        summary = json.loads((out / f"{abbr}.summary.json").read_text())
        assert summary["counts"]["contaminated"] == len(flagged) and summary["n"] == len(labels)
        lo, hi = summary["ci95"]
        assert lo < summary["contaminated_share"] == round(len(flagged) / len(labels), 4) < hi
        assert summary["methods"] == ["ngram", "longest"] and summary["corpus"] == [str(corpus.path.resolve())]
    (index_dir,) = (tmp / "outputs" / "contamination_index").iterdir()
    built = (index_dir / "meta.json").stat().st_mtime_ns
    assert compass("contamination", "cfg.py", "--corpus", "corpus/", "-q", cwd=tmp).returncode == 0
    assert (index_dir / "meta.json").stat().st_mtime_ns == built  # reused, not rebuilt
    with corpus.path.open("a") as f:
        f.write(json.dumps({"id": "late", "text": "one more document"}) + "\n")
    assert compass("contamination", "cfg.py", "--corpus", "corpus/", "-q", cwd=tmp).returncode == 0
    assert (index_dir / "meta.json").stat().st_mtime_ns != built  # the corpus changed: rebuilt
    # The labels live beside the config's runs; resuming the latest run never takes them for one.
    (tmp / "outputs" / "cfg" / "20261127_120000").mkdir()
    assert RunDir.resume(tmp / "outputs", "cfg", None).root.name == "20261127_120000"


def test_an_index_built_once_serves_other_configs(project):
    tmp = project[0]
    proc = compass("contamination", "--corpus", "corpus/web.jsonl", "--index", "idx", "-q", cwd=tmp)
    assert proc.returncode == 0 and "contamination index: idx" in proc.stdout
    proc = compass("contamination", "cfg.py", "--index", "idx", "-o", "labels", "--methods", "ngram,minhash", "-q",
                   cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    labels = records.read_lines(tmp / "labels" / "gsm8k-mini.jsonl", ContaminationLabel)
    assert all(r.methods == ["ngram", "minhash"] and r.near_duplicate is not None for r in labels)
    other = tmp / "other.jsonl"
    other.write_text(json.dumps({"text": "unrelated words only"}) + "\n")
    proc = compass("contamination", "cfg.py", "--corpus", "other.jsonl", "--index", "idx", cwd=tmp)
    assert proc.returncode == 2 and "holds the index of other corpus files" in error_line(proc)


def test_model_evidence_is_written_apart_from_labels(project):
    tmp, sets = project[:2]
    proc = compass("contamination", "cfg.py", "--corpus", "corpus/", "--methods", "ngram,longest,model", "-q", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    out = tmp / "outputs" / "cfg" / "contamination"
    evidence = records.read_lines(out / "gsm8k-mini.model.jsonl", ModelEvidence)
    assert [e.id for e in evidence] == [t.id for t in sets["gsm8k-mini"].items]
    assert all(e.model == "tiny" and e.min_k_pp is not None and e.reference_min_k_pp is not None for e in evidence)
    model = json.loads((out / "gsm8k-mini.summary.json").read_text())["model"]
    assert model["n"] == len(evidence) and model["auroc_vs_labels"] is not None
    diffs = [(e.min_k_pp or 0.0) - (e.reference_min_k_pp or 0.0) for e in evidence]  # none is None (above)
    assert model["mean_minus_reference"] == pytest.approx(sum(diffs) / len(diffs), abs=1e-3)


@pytest.mark.parametrize(("args", "message"), [
    (["--methods", "ngram,foo"], "--methods: unknown method 'foo'"),
    (["--workers", "0", "--rebuild"], "--workers: must be >= 1"),
    (["--corpus", "nowhere/"], "--corpus: nowhere/: no such file or directory"),
    ([], "--corpus: give the corpus files"),
    (["--methods", "model", "--model", "nope"], "--model: nope is neither a model abbr of the config nor a model directory"),
])
def test_bad_arguments_fail_in_one_line(project, args, message):
    tmp = project[0]
    corpus = [] if any(a.startswith("--corpus") for a in args) or message.startswith("--corpus: give") \
        else ["--corpus", "corpus/"]
    proc = compass("contamination", "cfg.py", *corpus, *args, cwd=tmp)
    assert proc.returncode == 2
    assert message in error_line(proc)
    assert not Path(tmp / "outputs" / "cfg" / "contamination" / "mmlu-mini.jsonl").exists()
