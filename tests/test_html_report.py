"""The HTML report in a real headless Chromium: values, sorting, drill-down, and no script injection."""
from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from compass.store import recover_jsonl, write_text_atomic
from helpers import compass, mmlu_dataset, write_config

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
INJECTIONS = ['<script>window.__pwned = 1</script>', '</script><script>window.__pwned = 2</script>',
              '<img src=x onerror="window.__pwned = 3">', '{{ 7 * 7 }}', '"><svg onload="window.__pwned=4">']

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER) and not os.environ.get("CI"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")


@pytest.fixture()
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",  # network off
                 f"--user-data-dir={tmp_path / 'chrome'}", "--window-size=1200,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture()
def hostile_run(tmp_path, mini_data, tiny_model):
    """A real run whose questions and (after evaluation) predictions hold injection strings."""
    csv_path = mini_data["mmlu"] / "data" / "test" / "unit_conversion_test.csv"
    lines = csv_path.read_text().splitlines()
    lines[0] = f'"{INJECTIONS[0]} {INJECTIONS[2]} {INJECTIONS[3]}",1,2,3,4,A'
    csv_path.write_text("\n".join(lines) + "\n")
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model)), dict(abbr="tiny-b", path=str(tiny_model))],
                       [mmlu_dataset(mini_data["mmlu"])])
    env_secret = "sk-test-SECRET-0123456789"
    proc = compass("run", str(cfg), cwd=tmp_path, env={**os.environ, "OPENAI_API_KEY": env_secret, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    for path in run.rglob("*"):
        if path.is_file():
            assert env_secret not in path.read_text(errors="replace"), path
    preds = run / "predictions" / "tiny" / "mmlu-mini.jsonl"
    rows = recover_jsonl(preds)
    for row, text in zip(rows, INJECTIONS):
        row["prediction"] = text
        row["extracted"] = text
        row["correct"] = False
    write_text_atomic(preds, "".join(json.dumps(r) + "\n" for r in rows))
    assert compass("report", str(run), cwd=tmp_path).returncode == 0
    return run


def test_report_in_chromium(browser, hostile_run, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    html = hostile_run / "summary" / "summary.html"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html.read_text())  # nothing to fetch
    browser.get(html.as_uri())
    assert browser.execute_script("return window.__pwned") is None

    # Leaderboard values are the result files' values.
    rows = browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == ["mmlu-mini"]
    result = json.loads((hostile_run / "results" / "tiny-b" / "mmlu-mini.json").read_text())
    shown = rows[0].find_elements(By.TAG_NAME, "td")[3].text
    assert shown.startswith(f"{100 * result['metrics']['accuracy']:.2f}")
    lo, hi = result["ci95"]["accuracy"]
    assert f"[{100 * lo:.1f}, {100 * hi:.1f}]" in shown

    # Sorting a column reorders rows (breakdown is per subject; the leaderboard has one row here,
    # so sort the samples' source list instead by checking header clicks don't error).
    header = browser.find_element(By.CSS_SELECTOR, "#leaderboard th[data-col='2']")
    header.click()
    header.click()

    # Drill-down: choose the hostile predictions, filter to failures.
    Select(browser.find_element(By.ID, "sample-source")).select_by_visible_text("tiny / mmlu-mini")
    browser.find_element(By.ID, "only-failures").click()
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#samples tbody td")]
    page_text = " ".join(cells)
    for text in INJECTIONS:
        assert text in page_text, text  # shown literally, as text
    assert browser.execute_script("return window.__pwned") is None
    assert not browser.find_elements(By.CSS_SELECTOR, "#samples img, #samples script, #samples svg")
    count = browser.find_element(By.ID, "sample-count").text
    assert count.endswith("of 12")
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 10_000
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_leaderboard_sorting(browser, tmp_path, mini_data, tiny_model):
    from selenium.webdriver.common.by import By

    datasets = [mmlu_dataset(mini_data["mmlu"], abbr=f"mmlu-{k}", name=s, reader_cfg=dict(test_range=f"[0:{n}]"))
                for k, s, n in (("a", "elementary_arithmetic", 6), ("b", "unit_conversion", 3))]
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model))], datasets)
    assert compass("run", str(cfg), cwd=tmp_path).returncode == 0
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    browser.get((run / "summary" / "summary.html").as_uri())
    header = browser.find_element(By.CSS_SELECTOR, "#leaderboard th[data-col='0']")
    names = lambda: [r.find_elements(By.TAG_NAME, "td")[0].text
                     for r in browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")]
    header.click()
    first = names()
    header.click()
    assert names() == list(reversed(first)) and sorted(first) in (first, list(reversed(first)))
    values = lambda: [float(r.find_elements(By.TAG_NAME, "td")[2].get_attribute("data-value"))
                      for r in browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")]
    browser.find_element(By.CSS_SELECTOR, "#leaderboard th[data-col='2']").click()
    assert values() == sorted(values(), reverse=True)
