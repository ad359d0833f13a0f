"""The gate clusters only by the declared `cluster` key, never by strata (`group`), and falls back to
the paired per-sample test, saying so in every report format, when the clusters are too few for
any verdict (issue 20)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from compass import records
from compass.errors import CompassError
from compass.gate.analyse import compare
from compass.gate.cli import main
from compass.store import RunDir

SUBJECTS = ["arithmetic", "geography", "biology", "history"]
TOO_FEW = "too few clusters for any verdict"
FELL_BACK = "fell back to the paired per-sample test"


def mmlu_like_collapse() -> tuple[np.ndarray, np.ndarray]:
    """100 questions, 25 per subject: the baseline gets 40 right, the candidate 25 (chance on
    4 choices): 21 lost, 6 gained, spread over every subject."""
    base = np.zeros(100, bool)
    cand = np.zeros(100, bool)
    for s in range(4):
        rows = np.arange(25 * s, 25 * s + 25)
        base[rows[:10]] = True  # 10 right per subject
        cand[rows[:10]] = True
        lost = [5, 5, 5, 6][s]
        cand[rows[:lost]] = False
        cand[rows[10:10 + [1, 2, 1, 2][s]]] = True
    assert base.sum() == 40 and cand.sum() == 25
    return base, cand


def write(run: Path, values: np.ndarray, *, groups: list[str] | None = None,
          clusters: list[str | None] | list[str] | None = None, dataset: str = "mmlu-mini",
          graded: bool = False) -> None:
    rows = [records.Scored(id=f"{i:03d}", evaluator="mean" if graded else "accuracy", extracted="x",
                           correct=None if graded else bool(v), score=float(v) if graded else None,
                           group=groups[i] if groups else None, cluster=clusters[i] if clusters else None)
            for i, v in enumerate(values)]
    records.write_lines(RunDir(run).scored("reference-demo", dataset), rows)


def subjects() -> list[str]:
    return [SUBJECTS[i // 25] for i in range(100)]


def test_subjects_as_groups_are_not_clusters(tmp_path):
    """Every MMLU line carries its subject as `group`. Before the fix these 4 subjects were the
    test's clusters and a collapse to chance was 'inconclusive: too few samples'."""
    base, cand = mmlu_like_collapse()
    write(tmp_path / "a", base, groups=subjects())
    write(tmp_path / "b", cand, groups=subjects())
    (r,) = compare(tmp_path / "a", tmp_path / "b").datasets
    assert (r.n_clusters, r.unit, r.fallback) == (None, "sample", None)
    assert (r.losses, r.wins) == (21, 6) and r.verdict == "regression"
    assert compare(tmp_path / "a", tmp_path / "a").exit_code == 0


def test_too_few_declared_clusters_fall_back_in_every_format(tmp_path, capsys):
    base, cand = mmlu_like_collapse()
    write(tmp_path / "a", base, clusters=subjects())
    write(tmp_path / "b", cand, clusters=subjects())
    out_json, out_md, out_xml = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.xml"
    code = main(["--baseline", str(tmp_path / "a"), "--candidate", str(tmp_path / "b"),
                 "--json", str(out_json), "--markdown", str(out_md), "--junit", str(out_xml)])
    text = capsys.readouterr().out
    assert code == 1
    (r,) = json.loads(out_json.read_text())["datasets"]
    assert (r["n_clusters"], r["unit"], r["verdict"]) == (4, "sample", "regression")
    assert (r["losses"], r["wins"]) == (21, 6) and r["test"].endswith("(per-sample fallback)")
    # 4 clusters: no sign pattern gives a p-value below 2^-4 = 0.0625 > alpha = 0.05.
    assert TOO_FEW in r["fallback"] and FELL_BACK in r["fallback"] and "0.0625" in r["fallback"]
    for rendered in (text, out_md.read_text()):
        assert TOO_FEW in rendered and FELL_BACK in rendered and "4 clusters: too few" in rendered
    root = ET.parse(out_xml).getroot()
    message = root.findall("testsuite/testcase/failure")[0].get("message", "")
    output = root.findall("testsuite/testcase/system-out")[0].text or ""
    assert TOO_FEW in message and FELL_BACK in output


@pytest.mark.parametrize(("n_clusters", "n_datasets", "falls_back"),
                         [(4, 1, True), (5, 1, False), (5, 2, True), (6, 2, False)])
def test_fallback_threshold(tmp_path, n_clusters, n_datasets, falls_back):
    """G clusters can reach p = 2^-G at best; the verdict needs alpha / k (Holm, k datasets)."""
    base, cand = mmlu_like_collapse()
    labels = [f"passage{i % n_clusters}" for i in range(100)]
    for k in range(n_datasets):
        write(tmp_path / "a", base, clusters=labels, dataset=f"set{k}")
        write(tmp_path / "b", cand, clusters=labels, dataset=f"set{k}")
    r = compare(tmp_path / "a", tmp_path / "b").datasets[0]
    assert r.n_clusters == n_clusters
    assert (r.unit, r.fallback is not None) == (("sample", True) if falls_back else ("cluster", False))
    if not falls_back:
        assert r.test == "cluster sign-flip permutation" and r.mdd is not None


def test_graded_scores_fall_back_to_the_per_sample_sign_flip(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.9, 200)
    cand = np.clip(base - 0.2 + rng.normal(0, 0.05, 200), 0, 1)
    labels = [f"doc{i % 3}" for i in range(200)]
    write(tmp_path / "a", base, clusters=labels, graded=True)
    write(tmp_path / "b", cand, clusters=labels, graded=True)
    (r,) = compare(tmp_path / "a", tmp_path / "b").datasets
    assert r.kind == "continuous" and r.n_clusters == 3 and r.unit == "sample"
    assert r.test == "sample sign-flip permutation (per-sample fallback)" and r.verdict == "regression"


def test_undeclared_samples_are_their_own_clusters(tmp_path):
    """Samples without a `cluster` are units of their own; a run that declares none takes the
    other's; two runs that declare different clusters for a sample are refused."""
    base, cand = mmlu_like_collapse()
    labels = [f"passage{i // 10}" if i < 50 else None for i in range(100)]  # 5 passages + 50 lone samples
    write(tmp_path / "a", base, clusters=labels)
    write(tmp_path / "b", cand)
    (r,) = compare(tmp_path / "a", tmp_path / "b").datasets
    assert (r.n_clusters, r.unit, r.fallback) == (55, "cluster", None)
    write(tmp_path / "b", cand, clusters=[f"other{i // 10}" for i in range(100)])
    with pytest.raises(CompassError, match="'cluster' differs between the runs for 50 sample"):
        compare(tmp_path / "a", tmp_path / "b")
