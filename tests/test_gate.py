"""Tests for `compass gate` (compass/gate/) and its statistics (compass/stats/paired.py).

Synthetic run directories follow the on-disk contract: per-sample outcomes in
<run>/scored/<model>/<dataset>.jsonl, written with compass.records as evaluation writes them.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from compass import records
from compass.gate.analyse import compare
from compass.gate.cli import main
from compass.stats import paired as ps
from compass.store import RunDir

ALPHA = 0.05


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def write_dataset(run: Path, model: str, dataset: str, rows: list[records.Scored]) -> Path:
    path = RunDir(run).scored(model, dataset)
    records.write_lines(path, rows)
    return path


def binary_rows(correct: np.ndarray, clusters: list[str] | None = None, prefix: str = "q",
                groups: list[str] | None = None) -> list[records.Scored]:
    return [records.Scored(id=f"{prefix}{i}", evaluator="accuracy", extracted="x", correct=bool(ok),
                           cluster=None if clusters is None else clusters[i],
                           group=None if groups is None else groups[i])
            for i, ok in enumerate(correct)]


def score_rows(scores: np.ndarray) -> list[records.Scored]:
    return [records.Scored(id=str(i), evaluator="bleu", extracted="x", score=float(s)) for i, s in enumerate(scores)]


def same_model_pair(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent runs of the same model: per-item correctness probabilities p_i
    (U-shaped, like real benchmarks: most items are almost always right or wrong)."""
    p = rng.beta(0.5, 0.35, n)
    return rng.random(n) < p, rng.random(n) < p


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Baseline, a candidate with 5% of 2000 samples flipped right -> wrong, and a copy."""
    rng = np.random.default_rng(7)
    base = rng.random(2000) < 0.7
    cand = base.copy()
    cand[rng.choice(np.flatnonzero(base), size=100, replace=False)] = False
    runs = tmp_path / "outputs" / "cfg"
    write_dataset(runs / "base", "m", "mmlu", binary_rows(base))
    write_dataset(runs / "cand", "m", "mmlu", binary_rows(cand))
    write_dataset(runs / "same", "m", "mmlu", binary_rows(base))
    return runs / "base", runs / "cand", runs / "same"


# ---------------------------------------------------------------------------------------------
# 1. Planted regression caught, identical candidate passes
# ---------------------------------------------------------------------------------------------
def test_planted_regression_exits_1(planted, capsys, tmp_path):
    base, cand, _ = planted
    code, out, _ = run_cli(capsys, "--baseline", base, "--candidate", cand, "--json", tmp_path / "r.json")
    assert code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    (mmlu,) = report["datasets"]
    assert mmlu["verdict"] == "regression" and report["verdict"] == "regression"
    assert mmlu["losses"] == 100 and mmlu["wins"] == 0
    assert mmlu["delta"] == pytest.approx(-0.05)
    assert mmlu["ci95"][0] < -0.05 < mmlu["ci95"][1] < -0.01  # clearly below the 1 pt tolerance
    assert "regression" in out and "exit 1" in out


def test_identical_candidate_passes(planted, capsys):
    base, _, same = planted
    code, out, _ = run_cli(capsys, "--baseline", base, "--candidate", same)
    assert code == 0
    assert "gate verdict: PASS" in out


def test_tolerance_is_a_margin(tmp_path):
    """A 0.5 pt drop on 10k samples is significant, yet within a 1 pt tolerance; 2.5 pt is not."""
    n = 10_000
    base = np.zeros(n, bool)
    base[:5000] = True

    def candidate(losses: int, wins: int) -> np.ndarray:
        cand = base.copy()
        cand[:losses] = False
        cand[5000:5000 + wins] = True
        return cand

    write_dataset(tmp_path / "b", "m", "d", binary_rows(base))
    write_dataset(tmp_path / "small_drop", "m", "d", binary_rows(candidate(100, 50)))
    write_dataset(tmp_path / "big_drop", "m", "d", binary_rows(candidate(300, 50)))
    within = compare(tmp_path / "b", tmp_path / "small_drop", max_drop=1.0)
    assert within.datasets[0].verdict == "pass" and within.exit_code == 0
    no_tolerance = compare(tmp_path / "b", tmp_path / "small_drop", max_drop=0.0)
    assert no_tolerance.datasets[0].verdict == "regression"
    beyond = compare(tmp_path / "b", tmp_path / "big_drop", max_drop=1.0)
    assert beyond.datasets[0].verdict == "regression" and beyond.exit_code == 1


# ---------------------------------------------------------------------------------------------
# 2. False-alarm rate under the null, power at the minimum detectable drop
# ---------------------------------------------------------------------------------------------
def test_null_false_alarm_rate_binary_with_holm():
    """2000 same-model comparisons x 3 datasets at max_drop = 0, where the null sits on the
    boundary of H0 (the hardest case; any tolerance > 0 only lowers the rate). A false alarm
    is any dataset flagged after Holm, i.e. the family-wise rate."""
    rng = np.random.default_rng(20240501)
    sims, k, n = 2000, 3, 1000
    p = rng.beta(0.5, 0.35, (1, k, n))  # fixed items; only the two runs are redrawn
    base = rng.random((sims, k, n)) < p
    cand = rng.random((sims, k, n)) < p
    losses = np.sum(base & ~cand, axis=-1)
    wins = np.sum(~base & cand, axis=-1)
    pvals = ps.mcnemar_regression_p(losses, wins, n, 0.0)
    rate = float(np.mean(np.any(ps.holm(pvals) <= ALPHA, axis=-1)))
    se = math.sqrt(ALPHA * (1 - ALPHA) / sims)
    # The default 1 pt tolerance on the first 600 comparisons (exact unconditional test).
    default = ps.mcnemar_regression_p(losses[:600], wins[:600], n, 0.01)
    rate_default = float(np.mean(np.any(ps.holm(default) <= ALPHA, axis=-1)))
    print(f"binary null FWER (Holm, k=3, n=1000, {sims} sims): {rate:.4f} at max_drop 0, "
          f"{rate_default:.4f} at max_drop 1")
    assert rate <= ALPHA + 2 * se
    assert rate >= 0.02  # not vacuous: a test that never rejects would pass the line above
    assert rate_default <= rate


def test_null_false_alarm_rate_at_tolerance_boundary():
    """With a tolerance m > 0 the worst null is a true drop of exactly m. Low discordance
    close to m is where plugging psi-hat into a conditional McNemar test breaks (we check it
    does here), and where the unconditional Berger-Boos test must still hold alpha."""
    rng = np.random.default_rng(11)
    sims, n, psi, m = 1000, 20_000, 0.012, 0.01
    theta = (psi + m) / (2 * psi)
    draws = rng.multinomial(n, [psi * theta, psi * (1 - theta), 1 - psi], size=sims)
    losses, wins = draws[:, 0], draws[:, 1]
    rate = float(np.mean(ps.mcnemar_regression_p(losses, wins, n, m) <= ALPHA))
    d_total = losses + wins
    theta_hat = np.minimum((d_total / n + m) / (2 * d_total / n), 1.0)
    naive = float(np.mean(stats.binom.sf(losses - 1, d_total, theta_hat) <= ALPHA))
    se = math.sqrt(ALPHA * (1 - ALPHA) / sims)
    print(f"boundary (drop = m) false-alarm rate: {rate:.4f}; plug-in conditional: {naive:.4f}")
    assert rate <= ALPHA + 2 * se
    assert naive > ALPHA + 2 * se  # the setting does discriminate


def test_null_false_alarm_rate_continuous():
    """1000 same-model comparisons of a continuous score (sign-flip test, 300 samples)."""
    rng = np.random.default_rng(5)
    sims, n = 1000, 300
    mu = rng.beta(2, 2, n)  # per-item expected score of the model
    hits = 0
    for _ in range(sims):
        base = rng.beta(8 * mu, 8 * (1 - mu))
        cand = rng.beta(8 * mu, 8 * (1 - mu))
        hits += ps.sign_flip_p(cand - base, "less", rng, n_perm=499) <= ALPHA
    rate = hits / sims
    se = math.sqrt(ALPHA * (1 - ALPHA) / sims)
    print(f"continuous null false-alarm rate: {rate:.4f}")
    assert 0.02 <= rate <= ALPHA + 2 * se


def test_mdd_has_the_stated_power():
    """Simulating at a true drop equal to the reported MDD gives ~80% detection."""
    rng = np.random.default_rng(3)
    n, psi = 2000, 0.1
    mdd = ps.mcnemar_mdd(n, int(psi * n), ALPHA)
    theta = (psi + mdd) / (2 * psi)
    draws = rng.multinomial(n, [psi * theta, psi * (1 - theta), 1 - psi], size=4000)
    power = float(np.mean(ps.mcnemar_regression_p(draws[:, 0], draws[:, 1], n, 0.0) <= ALPHA))
    print(f"MDD at n={n}, discordance {psi}: {100 * mdd:.2f} pt; simulated power {power:.3f}")
    assert 0.77 <= power <= 0.83
    # Normal-approximation sanity check (Connor 1987): (z_a + z_b) * sqrt(psi / n).
    assert mdd == pytest.approx((stats.norm.ppf(1 - ALPHA) + stats.norm.ppf(0.8)) * math.sqrt(psi / n), rel=0.1)
    # With a tolerance m, a drop of about m + MDD is flagged with ~80% power (docs/gate.md).
    drop, m = 0.01 + mdd, 0.01
    theta = (psi + drop) / (2 * psi)
    draws = rng.multinomial(n, [psi * theta, psi * (1 - theta), 1 - psi], size=600)
    power_m = float(np.mean(ps.mcnemar_regression_p(draws[:, 0], draws[:, 1], n, m) <= ALPHA))
    print(f"power of the 1 pt margin test at a {100 * drop:.2f} pt drop: {power_m:.3f}")
    assert 0.74 <= power_m <= 0.9


# ---------------------------------------------------------------------------------------------
# 3. Usage and data errors: exit 2 with one clear line
# ---------------------------------------------------------------------------------------------
def test_mismatched_ids_exit_2(tmp_path, capsys):
    correct = np.ones(50, bool)
    write_dataset(tmp_path / "a", "m", "gsm8k", binary_rows(correct))
    rows = binary_rows(correct)[:45] + binary_rows(correct[:3], prefix="other")
    write_dataset(tmp_path / "b", "m", "gsm8k", rows)
    code, out, err = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "b")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "gsm8k" in err and "5 id(s) only in baseline" in err and "3 only in candidate" in err


def test_malformed_line_names_file_and_line(tmp_path, capsys):
    write_dataset(tmp_path / "a", "m", "arc", binary_rows(np.ones(5, bool)))
    path = write_dataset(tmp_path / "b", "m", "arc", binary_rows(np.ones(5, bool)))
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:-7]  # a half-written line
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "b")
    assert code == 2 and f"{path}:3" in err and "not valid JSON" in err and err.count("\n") == 1


def test_bad_outcomes_exit_2(tmp_path, capsys):
    """A row without an outcome, a score outside [0, 1], mixed outcomes, duplicate ids, another evaluator."""
    write_dataset(tmp_path / "a", "m", "arc", binary_rows(np.ones(5, bool)))
    path = RunDir(tmp_path / "b").scored("m", "arc")
    row = records.encode(binary_rows(np.ones(1, bool))[0])
    for change, expected in (({"correct": None}, "exactly one of 'correct' and 'score'"),
                             ({"correct": None, "score": 1.5}, "must be in [0, 1]"),
                             ({"correct": None, "score": float("nan")}, "must be in [0, 1]")):
        bad = {k: v for k, v in {**row, **change}.items() if v is not None}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(bad) + "\n")
        code, _, err = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "b")
        assert code == 2 and f"{path}:1" in err and expected in err and err.count("\n") == 1, err
    cases = ((binary_rows(np.ones(4, bool)) + score_rows(np.ones(1)), "mixes 'correct' and 'score'"),
             (binary_rows(np.ones(5, bool)) + binary_rows(np.ones(1, bool)), "duplicate id 'q0'"),
             ([records.Scored(id=f"q{i}", evaluator="numeric_match", extracted="1", correct=True) for i in range(5)],
              "scored by 'accuracy' and candidate by 'numeric_match'"))
    for rows, expected in cases:
        write_dataset(tmp_path / "b", "m", "arc", rows)
        code, _, err = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "b")
        assert code == 2 and expected in err and err.count("\n") == 1, err


def test_unscored_dataset_says_evaluation_has_not_run(tmp_path, capsys):
    """Predictions without scored outcomes are an error, never a dataset silently left out."""
    write_dataset(tmp_path / "a", "m", "arc", binary_rows(np.ones(5, bool)))
    write_dataset(tmp_path / "a", "m", "gsm8k", binary_rows(np.ones(5, bool)))
    meta = records.PredictionMeta(infer_hash="h", n=5, ids_sha256="x")
    for dataset in ("arc", "gsm8k"):
        records.write_record(RunDir(tmp_path / "b").prediction_meta("m", dataset), meta)
    code, _, err = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "b")
    assert code == 2 and "no scored/ directory: evaluation hasn't run" in err and err.count("\n") == 1
    write_dataset(tmp_path / "b", "m", "arc", binary_rows(np.ones(5, bool)))  # gsm8k: inferred, not scored
    code, _, err = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "b")
    assert code == 2 and "'gsm8k' of model 'm' has predictions but no scored file" in err, err


def test_stale_result_is_refused(tmp_path, capsys):
    """A scored file that does not count the samples its result file counts is not compared."""
    write_dataset(tmp_path / "a", "m", "arc", binary_rows(np.ones(5, bool)))
    path = write_dataset(tmp_path / "b", "m", "arc", binary_rows(np.ones(5, bool)))
    result = records.Result(model="m", dataset="arc", n=6, primary="accuracy", metrics={"accuracy": 1.0},
                            ci95={"accuracy": [0.5, 1.0]}, evaluator="accuracy", config_hash="c", infer_hash="i",
                            compass_version="0", model_path="p", dataset_path="d")
    records.write_record(RunDir(tmp_path / "b").result("m", "arc"), result)
    code, _, err = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "b")
    assert code == 2 and f"{path}: holds 5 samples" in err and "n = 6" in err
    records.write_record(RunDir(tmp_path / "b").result("m", "arc"), records.Result(**{**result.__dict__, "n": 5}))
    code, _, err = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "b")
    assert code == 0, err


def test_missing_directory_and_bad_args(tmp_path, capsys):
    write_dataset(tmp_path / "a", "m", "arc", binary_rows(np.ones(5, bool)))
    code, _, err = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "nope")
    assert code == 2 and "candidate path does not exist" in err and str(tmp_path / "nope") in err
    code, _, err = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "a", "--alpha", "2")
    assert code == 2 and "--alpha" in err
    code, _, _ = run_cli(capsys, "--baseline", tmp_path / "a")  # argparse: missing --candidate
    assert code == 2


def test_model_selection(tmp_path, capsys):
    rng = np.random.default_rng(1)
    a, b = same_model_pair(rng, 3000)
    run = tmp_path / "run"
    write_dataset(run, "llama", "arc", binary_rows(a))
    write_dataset(run, "qwen", "arc", binary_rows(b))
    code, _, err = run_cli(capsys, "--baseline", run, "--candidate", run)
    assert code == 2 and "llama" in err and "qwen" in err and "--model" in err
    code, _, err = run_cli(capsys, "--baseline", run, "--candidate", run, "--model", "gpt")
    assert code == 2 and "no model 'gpt'" in err and "models: llama, qwen" in err
    report = compare(run, run, model="llama")
    assert report.datasets[0].delta == 0 and report.verdict == "pass"
    report = compare(run, run, baseline_model="llama", candidate_model="qwen")
    assert (report.baseline.model, report.candidate.model) == ("llama", "qwen")
    # A scored/, predictions/ or results/ directory, with or without the model, works too, and
    # datasets in one run only are listed.
    write_dataset(run, "qwen", "extra", binary_rows(b[:10]))
    for kind in ("scored", "predictions", "results"):
        for model in ("llama", "qwen"):
            (run / kind / model).mkdir(parents=True, exist_ok=True)
        report = compare(run / kind / "llama", run / kind / "qwen")
        assert [r.dataset for r in report.datasets] == ["arc"] and report.only_in_candidate == ["extra"]
        assert (report.baseline.model, report.candidate.model) == ("llama", "qwen")
        assert compare(run / kind, run / kind, model="qwen").datasets[0].delta == 0
    code, _, err = run_cli(capsys, "--baseline", run / "scored" / "llama", "--candidate", run, "--model", "qwen")
    assert code == 2 and "holds model 'llama', not 'qwen'" in err


# ---------------------------------------------------------------------------------------------
# 4. Small n, Holm, exact McNemar, clustered bootstrap
# ---------------------------------------------------------------------------------------------
def test_small_n_is_inconclusive_and_strict_fails(tmp_path, capsys):
    rng = np.random.default_rng(2)
    a, b = same_model_pair(rng, 60)
    write_dataset(tmp_path / "a", "m", "tiny", binary_rows(a))
    write_dataset(tmp_path / "b", "m", "tiny", binary_rows(b))
    code, out, _ = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "b")
    assert code == 0 and "inconclusive" in out
    report = compare(tmp_path / "a", tmp_path / "b")
    mdd = report.datasets[0].mdd
    assert report.datasets[0].verdict == "inconclusive" and mdd is not None and mdd > 0.05
    code, _, _ = run_cli(capsys, "--baseline", tmp_path / "a", "--candidate", tmp_path / "b", "--strict")
    assert code == 1
    # Identical tiny runs: nothing changed, but 10 samples cannot detect a 1 pt drop either.
    write_dataset(tmp_path / "c", "m", "tiny", binary_rows(a[:10]))
    assert compare(tmp_path / "c", tmp_path / "c").datasets[0].verdict == "inconclusive"


def test_holm_hand_example():
    # Sorted: .005*4 = .02, .01*3 = .03, .03*2 = .06, max(.04*1, .06) = .06.
    np.testing.assert_allclose(ps.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # Step-down monotonicity and capping at 1.
    np.testing.assert_allclose(ps.holm([0.5, 0.4]), [0.8, 0.8])
    np.testing.assert_allclose(ps.holm([0.9, 0.01, 0.6]), [1.0, 0.03, 1.0])


def test_exact_mcnemar_hand_example():
    # 9 losses, 2 wins: P(Bin(11, 1/2) >= 9) = (C(11,9) + C(11,10) + C(11,11)) / 2^11 = 67/2048.
    p = float(ps.mcnemar_regression_p(9, 2, 40, 0.0))
    assert p == pytest.approx(67 / 2048, rel=1e-12)
    assert p == pytest.approx(stats.binomtest(9, 11, 0.5, alternative="greater").pvalue, rel=1e-12)
    assert float(ps.mcnemar_noninferiority_p(2, 9, 40, 0.0)) == pytest.approx(67 / 2048, rel=1e-12)
    # Through the gate: the reported raw p-value is this one.
    assert float(ps.mcnemar_regression_p(0, 0, 40, 0.0)) == 1.0


def test_exact_mcnemar_through_gate(tmp_path):
    base = np.array([True] * 9 + [False] * 2 + [True] * 20 + [False] * 9)
    cand = np.array([False] * 9 + [True] * 2 + [True] * 20 + [False] * 9)
    write_dataset(tmp_path / "a", "m", "d", binary_rows(base))
    write_dataset(tmp_path / "b", "m", "d", binary_rows(cand))
    result = compare(tmp_path / "a", tmp_path / "b", max_drop=0.0).datasets[0]
    assert (result.losses, result.wins) == (9, 2)
    assert result.p_value == pytest.approx(67 / 2048, rel=1e-12)


def test_margin_p_value_is_monotone_and_exceeds_the_no_margin_one():
    p0 = float(ps.mcnemar_regression_p(150, 100, 5000, 0.0))
    p1 = float(ps.mcnemar_regression_p(150, 100, 5000, 0.005))
    p2 = float(ps.mcnemar_regression_p(150, 100, 5000, 0.01))
    assert p0 < p1 < p2 <= 1.0


def test_cluster_bootstrap_wider_when_clusters_correlated(tmp_path):
    """Candidate gains on some passages and loses on others: samples within a declared cluster
    move together, so a bootstrap over samples understates the uncertainty. The same labels given
    as `group` (a stratum) leave the samples independent."""
    rng = np.random.default_rng(9)
    clusters, per = 40, 25
    shift = np.repeat(rng.normal(0, 0.2, clusters), per)
    p = np.repeat(rng.uniform(0.3, 0.8, clusters), per)
    base = rng.random(clusters * per) < p
    cand = rng.random(clusters * per) < np.clip(p + shift, 0, 1)
    labels = [f"passage{g}" for g in np.repeat(np.arange(clusters), per)]
    write_dataset(tmp_path / "a", "m", "clustered", binary_rows(base, labels))
    write_dataset(tmp_path / "b", "m", "clustered", binary_rows(cand, labels))
    write_dataset(tmp_path / "a", "m", "flat", binary_rows(base))
    write_dataset(tmp_path / "b", "m", "flat", binary_rows(cand))
    write_dataset(tmp_path / "a", "m", "strata", binary_rows(base, groups=labels))
    write_dataset(tmp_path / "b", "m", "strata", binary_rows(cand, groups=labels))
    report = {r.dataset: r for r in compare(tmp_path / "a", tmp_path / "b").datasets}
    clustered, flat, strata = report["clustered"], report["flat"], report["strata"]
    assert clustered.n_clusters == clusters and clustered.unit == "cluster" and clustered.fallback is None
    assert flat.n_clusters is None and flat.unit == "sample"
    assert clustered.delta == pytest.approx(flat.delta)
    def width(r):
        return r.ci95[1] - r.ci95[0]

    print(f"CI width: clustered {100 * width(clustered):.2f} pt vs iid {100 * width(flat):.2f} pt")
    assert width(clustered) > 1.5 * width(flat)
    assert clustered.mdd is not None and flat.mdd is not None
    assert clustered.mdd > flat.mdd  # the clustered test is honest about its power too
    # (the bootstrap is seeded per dataset name, so only the interval's draws differ)
    assert (strata.n_clusters, strata.test, strata.p_value, strata.mdd) == (None, flat.test, flat.p_value, flat.mdd)
    assert width(strata) == pytest.approx(width(flat), rel=0.15)


def test_cluster_bootstrap_matches_iid_without_correlation():
    rng = np.random.default_rng(4)
    d = rng.choice([-1.0, 0.0, 0.0, 1.0], size=4000)
    iid = ps.percentile_ci(ps.bootstrap_clusters(d, np.ones(d.size), 2000, rng))
    sums = d.reshape(400, 10).sum(axis=1)  # random grouping: no within-group correlation
    clustered = ps.percentile_ci(ps.bootstrap_clusters(sums, np.full(400, 10.0), 2000, rng))
    assert (clustered[1] - clustered[0]) == pytest.approx(iid[1] - iid[0], rel=0.15)


# ---------------------------------------------------------------------------------------------
# 5. Report files, determinism
# ---------------------------------------------------------------------------------------------
def test_report_files_parse(planted, tmp_path, capsys):
    base, cand, _ = planted
    scores = np.random.default_rng(0).random(200)
    write_dataset(base, "m", "bleu", score_rows(scores))
    write_dataset(cand, "m", "bleu", score_rows(scores))
    out_json, out_md, out_xml = tmp_path / "o" / "r.json", tmp_path / "o" / "r.md", tmp_path / "o" / "r.xml"
    code, _, _ = run_cli(capsys, "--baseline", base, "--candidate", cand,
                         "--json", out_json, "--markdown", out_md, "--junit", out_xml)
    assert code == 1
    report = json.loads(out_json.read_text())
    # bleu: the same 200 scores in both runs, yet a 1-point drop carried by a few samples could
    # hide in 200 (the floor of stats.paired.normal_mdd, ~3.1 points here): inconclusive, not pass.
    assert {r["dataset"]: r["verdict"] for r in report["datasets"]} == {"bleu": "inconclusive", "mmlu": "regression"}
    assert report["exit_code"] == 1 and report["settings"]["max_drop_points"] == 1.0
    # MDD is quoted at alpha / k (k = 2 datasets), from the 100 discordant pairs of mmlu.
    mmlu = next(r for r in report["datasets"] if r["dataset"] == "mmlu")
    assert mmlu["mdd"] == pytest.approx(ps.mcnemar_mdd(2000, 100, ALPHA / 2))
    md = out_md.read_text()
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 2 and "regression" in table[-1] and "Δ [95% CI]" in table[0]
    suite = ET.parse(out_xml).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"bleu", "mmlu"} and suite.get("failures") == "1"
    assert cases["mmlu"].find("failure") is not None and cases["bleu"].find("failure") is None


def test_deterministic_output(planted, tmp_path, capsys):
    base, cand, _ = planted
    texts = []
    for i in range(2):
        run_cli(capsys, "--baseline", base, "--candidate", cand, "--json", tmp_path / f"{i}.json")
        texts.append((tmp_path / f"{i}.json").read_text())
    assert texts[0] == texts[1]


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "--max-drop" in capsys.readouterr().out


def test_runs_that_score_every_unit_alike_do_not_make_any_drop_detectable():
    """Audit: 20 questions x 4 repeats, both runs scoring each question alike: the sign-flip MDD
    came from the observed differences (all 0), so "drops of 0.00 pt are detected" and PASS, where
    one completion per question gave an MDD of ~31 points (McNemar). A drop carried by a share of
    the units is what the floor assumes: for 20 units about McNemar's."""
    mdd = ps.normal_mdd(np.zeros(20), 20, 0.05, ps.sign_flip_min_p(20))
    assert mdd == pytest.approx(ps.mcnemar_mdd(20, 0, 0.05), abs=0.03)
    spread = np.array([1.0, -1.0] * 10)  # observed disagreement above the floor counts as before
    assert ps.normal_mdd(spread, 20, 0.05, ps.sign_flip_min_p(20)) == pytest.approx(
        (stats.norm.ppf(0.95) + stats.norm.ppf(0.8)) * math.sqrt(20) / 20)
