"""The HTML report in a real headless Chromium: values, sorting, drill-down, two models side by side,
merged runs, and no script injection."""
from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil

import pytest

from compass import records
from compass.records import Prediction, Result, Scored
from compass.store import RunDir
from compass.testing import build_tiny_llama

from helpers import compass, gsm8k_dataset, mmlu_dataset, write_config

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
INJECTIONS = ['<script>window.__pwned = 1</script>', '</script><script>window.__pwned = 2</script>',
              '<img src=x onerror="window.__pwned = 3">', '{{ 7 * 7 }}', '"><svg onload="window.__pwned=4">']
# Names matplotlib would parse as math (and fail on: an unbalanced brace), in every kind of plotted text.
MATH_MODEL, MATH_DATASET, MATH_GROUP = "org/$x^2$ tiny", "mmlu-$\\alpha$", "$\\frac{unit$ conversion"
REVERSED = ["D", "C", "B", "A"]  # the compare run's choices: scores come in this order, not A-D

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER) and not os.environ.get("CI"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")


@pytest.fixture()
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or "chromium"  # None only on CI without it: fails there, loudly
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",  # network off
                 f"--user-data-dir={tmp_path / 'chrome'}", "--window-size=1200,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    driver.quit()
    assert not errors, errors


@pytest.fixture()
def hostile_run(tmp_path, mini_data, tiny_model):
    """A real run whose questions, few-shot examples and (rewritten after evaluation) answers hold
    injection strings, with a model, dataset and group named like math."""
    data = mini_data["mmlu"] / "data"
    for split in ("dev", "val", "test"):
        (data / split / f"unit_conversion_{split}.csv").rename(data / split / f"{MATH_GROUP}_{split}.csv")
    for split in ("test", "dev"):  # the first test question, and a few-shot example
        csv_path = data / split / f"{MATH_GROUP}_{split}.csv"
        lines = csv_path.read_text().splitlines()
        lines[0] = f'"{INJECTIONS[0]} {INJECTIONS[2]} {INJECTIONS[3]}",1,2,3,4,A'
        csv_path.write_text("\n".join(lines) + "\n")
    models = [{"abbr": "tiny", "path": str(tiny_model)}, {"abbr": MATH_MODEL, "path": str(tiny_model)}]
    cfg = write_config(tmp_path / "cfg.py", models,
                       [mmlu_dataset(mini_data["mmlu"], abbr=MATH_DATASET)])
    env_secret = "sk-test-SECRET-0123456789"
    proc = compass("run", str(cfg), cwd=tmp_path,
                   env={**os.environ, "OPENAI_API_KEY": env_secret, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    (root,) = list((tmp_path / "outputs" / "cfg").iterdir())
    for path in root.rglob("*"):
        if path.is_file():
            assert env_secret not in path.read_text(errors="replace"), path
    run = RunDir(root)
    preds = records.read_log(run.predictions("tiny", MATH_DATASET), Prediction).records
    scored = records.read_lines(run.scored("tiny", MATH_DATASET), Scored)
    records.write_lines(run.predictions("tiny", MATH_DATASET),
                        [dataclasses.replace(p, prediction=text) for p, text in zip(preds, INJECTIONS)]
                        + preds[len(INJECTIONS):])
    records.write_lines(run.scored("tiny", MATH_DATASET),
                        [dataclasses.replace(s, extracted=text, correct=False) for s, text in zip(scored, INJECTIONS)]
                        + scored[len(INJECTIONS):])
    proc = compass("report", str(root), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return root


def test_report_in_chromium(browser, hostile_run, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    html = hostile_run / "summary" / "summary.html"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html.read_text())  # nothing to fetch
    browser.get(html.as_uri())
    assert browser.execute_script("return window.__pwned") is None

    # Leaderboard values are the result files' values.
    rows = browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == [MATH_DATASET]
    result = records.read_record(RunDir(hostile_run).result(MATH_MODEL, MATH_DATASET), Result)
    shown = rows[0].find_elements(By.TAG_NAME, "td")[3].text
    assert shown.startswith(f"{100 * result.metrics['accuracy']:.2f}")
    lo, hi = result.ci95["accuracy"]
    assert f"[{100 * lo:.1f}, {100 * hi:.1f}]" in shown
    groups = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "table.breakdown tbody tr td:first-child")]
    # The group named like math is drawn (as text, not math) in the plot above.
    assert sorted(groups) == sorted(["elementary_arithmetic", MATH_GROUP])

    header = browser.find_element(By.CSS_SELECTOR, "#leaderboard th[data-col='2']")
    header.click()
    header.click()

    # Drill-down: the hostile predictions, failures only, few-shot blocks unfolded.
    Select(browser.find_element(By.ID, "sample-source")).select_by_visible_text(f"tiny / {MATH_DATASET}")
    browser.find_element(By.ID, "only-failures").click()
    for summary in browser.find_elements(By.CSS_SELECTOR, "#samples details.context summary"):
        summary.click()
    page_text = " ".join(td.text for td in browser.find_elements(By.CSS_SELECTOR, "#samples tbody td"))
    for text in INJECTIONS:
        assert text in page_text, text  # shown literally, as text
    assert browser.find_element(By.ID, "sample-count").text.endswith("of 12")
    # Side by side, the same strings stay text too.
    Select(browser.find_element(By.ID, "compare-b")).select_by_visible_text(MATH_MODEL)
    browser.find_element(By.ID, "only-disagreements").click()
    compare_text = " ".join(td.text for td in browser.find_elements(By.CSS_SELECTOR, "#compare tbody td"))
    for text in INJECTIONS:
        assert text in compare_text, text
    assert browser.execute_script("return window.__pwned") is None
    assert not browser.find_elements(By.CSS_SELECTOR, "#samples img, #samples script, #samples svg, "
                                                      "#compare img, #compare script, #compare svg")
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_leaderboard_sorting(browser, tmp_path, mini_data, tiny_model):
    from selenium.webdriver.common.by import By

    datasets = [mmlu_dataset(mini_data["mmlu"], abbr=f"mmlu-{k}", name=s, reader_cfg={"test_range": f"[0:{n}]"})
                for k, s, n in (("a", "elementary_arithmetic", 6), ("b", "unit_conversion", 3))]
    cfg = write_config(tmp_path / "cfg.py", [{"abbr": "tiny", "path": str(tiny_model)}], datasets)
    assert compass("run", str(cfg), cwd=tmp_path).returncode == 0
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    browser.get((run / "summary" / "summary.html").as_uri())
    header = browser.find_element(By.CSS_SELECTOR, "#leaderboard th[data-col='0']")

    def names():
        return [r.find_elements(By.TAG_NAME, "td")[0].text
                for r in browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")]

    header.click()
    first = names()
    header.click()
    assert names() == list(reversed(first)) and sorted(first) in (first, list(reversed(first)))

    def values():
        return [float(r.find_elements(By.TAG_NAME, "td")[2].get_attribute("data-value"))
                for r in browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")]

    browser.find_element(By.CSS_SELECTOR, "#leaderboard th[data-col='2']").click()
    assert values() == sorted(values(), reverse=True)


# -- two different models, multiple choice with its choices in reverse order ---------------------
@pytest.fixture(scope="module")
def pair_run(tmp_path_factory, tiny_model):
    """A real run of two differently initialised tiny models on a multiple-choice set (choices
    scored in the order D, C, B, A) and a generation set; read only by the tests below."""
    from compass.synthetic import write_gsm8k, write_mmlu

    base = tmp_path_factory.mktemp("pair")
    other = build_tiny_llama(base / "tiny-seed1", seed=1)
    mmlu = mmlu_dataset(write_mmlu(base / "mmlu", subjects=["elementary_arithmetic", "unit_conversion"],
                                   n_dev=3, n_val=2, n_test=6))
    mmlu["infer_cfg"]["inferencer"] = {"type": "PPLInferencer", "choices": REVERSED}
    models = [{"abbr": "tiny", "path": str(tiny_model)}, {"abbr": "org/tiny-1", "path": str(other)}]
    cfg = write_config(base / "cfg.py", models,
                       [mmlu, gsm8k_dataset(write_gsm8k(base / "gsm8k", n_train=3, n_test=8))])
    proc = compass("run", str(cfg), cwd=base)
    assert proc.returncode == 0, proc.stderr
    (root,) = list((base / "outputs" / "cfg").iterdir())
    return RunDir(root)


def _open(browser, run: RunDir, source: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get((run.summary_dir / "summary.html").as_uri())
    Select(browser.find_element(By.ID, "sample-source")).select_by_visible_text(source)
    rows = browser.find_elements(By.CSS_SELECTOR, "#samples tbody tr")
    return {r.find_element(By.TAG_NAME, "td").text: r for r in rows}  # by the id in the first cell


def test_drilldown_shows_the_question_first_and_folds_the_few_shot_block(browser, pair_run):
    from selenium.webdriver.common.by import By

    for ds in ("mmlu-mini", "gsm8k-mini"):
        predictions = records.read_log(pair_run.predictions("tiny", ds), Prediction).records
        rows = _open(browser, pair_run, f"tiny / {ds}")
        assert set(rows) == {p.id for p in predictions}
        for p in predictions:
            assert p.question_at and 0 < p.question_at < len(p.prompt)  # each prompt has a few-shot block
            question, context = p.prompt[p.question_at:], p.prompt[:p.question_at]
            cell = rows[p.id].find_elements(By.TAG_NAME, "td")[1]  # the prompt
            first = cell.find_element(By.CSS_SELECTOR, "pre")  # what the reader sees first
            assert first.get_attribute("textContent") == question
            details = cell.find_element(By.CSS_SELECTOR, "details.context")
            assert details.get_attribute("open") is None
            folded = details.find_element(By.CSS_SELECTOR, "pre")
            assert not folded.is_displayed() and folded.get_attribute("textContent") == context
            assert cell.text.startswith(question.split("\n")[0])
        details.find_element(By.TAG_NAME, "summary").click()  # unfolds on demand
        assert folded.is_displayed() and folded.text == context.strip()


def test_drilldown_shows_each_choice_probability_labelled_by_the_config(browser, pair_run):
    from selenium.webdriver.common.by import By

    for model in ("tiny", "org/tiny-1"):
        predictions = records.read_log(pair_run.predictions(model, "mmlu-mini"), Prediction).records
        rows = _open(browser, pair_run, f"{model} / mmlu-mini")
        for p in predictions:
            lines = rows[p.id].find_elements(By.CSS_SELECTOR, "td.prediction .choice")
            shown = [(line.find_element(By.CSS_SELECTOR, ".label").text,
                      line.find_element(By.CSS_SELECTOR, ".pct").text) for line in lines]
            top = max(p.choice_logprobs)
            weights = [math.exp(lp - top) for lp in p.choice_logprobs]
            expected = [(label, f"{100 * w / sum(weights):.1f}%") for label, w in zip(REVERSED, weights)]
            assert shown == expected, p.id
            chosen = [line.find_element(By.CSS_SELECTOR, ".label").text for line in lines
                      if "chosen" in line.get_attribute("class")]
            assert chosen == [p.prediction]  # the model's answer is the most probable choice
            gold = [line.find_element(By.CSS_SELECTOR, ".label").text for line in lines
                    if line.find_elements(By.CSS_SELECTOR, ".mark")]
            assert gold == [p.gold]
    generation = _open(browser, pair_run, "tiny / gsm8k-mini")
    assert generation and not browser.find_elements(By.CSS_SELECTOR, "#samples .choice")


def test_side_by_side_with_a_disagreement_filter(browser, pair_run):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get((pair_run.summary_dir / "summary.html").as_uri())
    checkbox = browser.find_element(By.ID, "only-disagreements")
    differing_somewhere = agreeing_somewhere = False
    for ds in ("mmlu-mini", "gsm8k-mini"):
        a = {s.id: s for s in records.read_lines(pair_run.scored("tiny", ds), Scored)}
        b = {s.id: s for s in records.read_lines(pair_run.scored("org/tiny-1", ds), Scored)}
        differ = {i for i in a if (a[i].extracted, a[i].value) != (b[i].extracted, b[i].value)}
        differing_somewhere |= bool(differ)
        agreeing_somewhere |= len(differ) < len(a)
        Select(browser.find_element(By.ID, "compare-dataset")).select_by_visible_text(ds)
        Select(browser.find_element(By.ID, "compare-a")).select_by_visible_text("tiny")
        Select(browser.find_element(By.ID, "compare-b")).select_by_visible_text("org/tiny-1")
        if checkbox.is_selected():
            checkbox.click()
        rows = browser.find_elements(By.CSS_SELECTOR, "#compare tbody tr")
        assert {r.get_attribute("data-id") for r in rows} == set(a)
        for row in rows:  # each side shows that model's own answer and verdict
            i = row.get_attribute("data-id")
            cells = row.find_elements(By.TAG_NAME, "td")
            for cell, s in ((cells[3], a[i]), (cells[4], b[i])):
                assert f"extracted: {s.extracted}".strip() in cell.text
                assert f"correct: {'yes' if s.correct else 'no'}" in cell.text
            assert ("disagree" in row.get_attribute("class")) == (i in differ)
        checkbox.click()
        shown = {r.get_attribute("data-id") for r in browser.find_elements(By.CSS_SELECTOR, "#compare tbody tr")}
        assert shown == differ, ds
        assert browser.find_element(By.ID, "compare-count").text.startswith(
            f"{len(differ)} shown; the models disagree on {len(differ)} of the {len(a)} samples")
    assert differing_somewhere and agreeing_somewhere  # the filter had something to tell apart


def test_merged_report_names_every_run(browser, pair_run, tmp_path):
    from selenium.webdriver.common.by import By

    # Two runs of the same config (the second a copy under a later timestamp).
    first = tmp_path / "cfg" / pair_run.root.name
    shutil.copytree(pair_run.root, first)
    second = shutil.copytree(first, tmp_path / "cfg" / "29991231_235959")
    out = tmp_path / "merged"
    for target in (out, tmp_path / "merged-again"):
        proc = compass("report", str(first), str(second), "--out", str(target), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    html = (out / "summary.html").read_bytes()
    assert html == (tmp_path / "merged-again" / "summary.html").read_bytes()  # deterministic
    browser.get((out / "summary.html").as_uri())
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert pair_run.root.name in heading and "29991231_235959" in heading, heading
    assert pair_run.root.name in browser.title and "29991231_235959" in browser.title
    runs = {td.text for td in browser.find_elements(By.CSS_SELECTOR, "#run-history tbody td:first-child")}
    assert runs == {f"cfg/{pair_run.root.name}", "cfg/29991231_235959"}

    # A single run's report regenerates byte for byte from a copy of its files.
    copy = RunDir(shutil.copytree(pair_run.root, tmp_path / "copy"))
    shutil.rmtree(copy.summary_dir)
    assert compass("report", str(copy.root), cwd=tmp_path).returncode == 0
    assert (copy.summary_dir / "summary.html").read_bytes() == (pair_run.summary_dir / "summary.html").read_bytes()


def test_plot_legends_stay_off_the_bars(browser, pair_run):
    from selenium.webdriver.common.by import By

    browser.get((pair_run.summary_dir / "summary.html").as_uri())
    plots = browser.find_elements(By.CSS_SELECTOR, ".plot svg")
    assert len(plots) == 2  # the leaderboard's and the MMLU subjects' (two models: both have a legend)
    for svg in plots:
        overlap = browser.execute_script("""
            const legend = arguments[0].querySelector("g[id^='legend']").getBoundingClientRect();
            const axes = arguments[0].querySelector("g[id^='axes'] > g[id^='patch']").getBoundingClientRect();
            return Math.max(0, Math.min(legend.right, axes.right) - Math.max(legend.left, axes.left)) *
                   Math.max(0, Math.min(legend.bottom, axes.bottom) - Math.max(legend.top, axes.top));""", svg)
        assert overlap == 0
