"""A damaged run directory, then ``-r``: the same results as the run that was never damaged, no
valid line lost, and exactly the missing samples sent to the model."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compass.tasks.infer import sent_ids

from helpers import compass, gsm8k_dataset, mmlu_dataset, predictions_of, result_of, scored_of, write_config


@pytest.fixture(scope="module")
def clean(tmp_path_factory, tiny_model):
    from compass.synthetic import write_gsm8k, write_mmlu

    root = tmp_path_factory.mktemp("damage")
    mmlu = write_mmlu(root / "mmlu", subjects=["elementary_arithmetic", "unit_conversion"], n_dev=3, n_val=2, n_test=6)
    gsm = write_gsm8k(root / "gsm8k", n_train=3, n_test=10)
    cfg = write_config(root / "cfg.py", [dict(abbr="tiny", path=str(tiny_model), batch_size=3)],
                       [mmlu_dataset(mmlu), gsm8k_dataset(gsm)])
    proc = compass("run", str(cfg), "-w", str(root / "clean"), cwd=root)
    assert proc.returncode == 0, proc.stderr
    (run,) = list((root / "clean" / "cfg").iterdir())
    return root, cfg, run


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def garbage_mid_file(preds: Path) -> set[str]:
    lines = _lines(preds)
    lost = predictions_of(preds.parent.parent.parent, "tiny", "gsm8k-mini")[4].id
    lines[4] = "\x00\x00 this is not JSON {]\n"  # overwrites one sample's line
    preds.write_text("".join(lines))
    return {lost}


def garbage_inserted(preds: Path) -> set[str]:
    lines = _lines(preds)
    lines.insert(3, "{\"id\": \"half a line\n")
    preds.write_text("".join(lines))
    return set()


def truncated(preds: Path) -> set[str]:
    data = preds.read_bytes()
    cut = len(data) // 2
    kept = data[:cut]
    whole = kept[:kept.rfind(b"\n") + 1]
    ids = {p.id for p in predictions_of(preds.parent.parent.parent, "tiny", "gsm8k-mini")}
    preds.write_bytes(kept)  # ends inside a line
    preds_after = whole.decode().count("\n")
    return ids - {p.id for p in predictions_of(preds.parent.parent.parent, "tiny", "gsm8k-mini")[:preds_after]}


def deleted_predictions(preds: Path) -> set[str]:
    ids = {p.id for p in predictions_of(preds.parent.parent.parent, "tiny", "gsm8k-mini")}
    preds.unlink()
    return ids


def deleted_results(preds: Path) -> set[str]:
    run = preds.parent.parent.parent
    for path in (run / "results").rglob("*.json"):
        path.unlink()
    return set()


def garbage_meta(preds: Path) -> set[str]:
    preds.with_name("gsm8k-mini.meta.json").write_text('{"infer_hash": ')
    preds.parent.joinpath("mmlu-mini.meta.json").write_text("[]")
    return set()


@pytest.mark.parametrize("damage", [garbage_mid_file, garbage_inserted, truncated, deleted_predictions,
                                    deleted_results, garbage_meta])
def test_resume_after_damage_gives_the_undamaged_results(clean, damage):
    root, cfg, clean_run = clean
    work = root / damage.__name__
    shutil.copytree(clean_run.parent, work / "cfg")
    run = work / "cfg" / clean_run.name
    preds = run / "predictions" / "tiny" / "gsm8k-mini.jsonl"
    valid_before = {p.id: p for p in predictions_of(run, "tiny", "gsm8k-mini")}
    missing = damage(preds)
    still_valid = {p.id: p for p in predictions_of(run, "tiny", "gsm8k-mini")}
    events = run / "logs" / "infer" / "tiny.events.jsonl"
    calls = len(sent_ids(events))

    proc = compass("run", str(cfg), "-w", str(work), "-r", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert sorted(sent_ids(events)[calls:]) == sorted(missing)  # exactly the missing samples, once each
    after = {p.id: p for p in predictions_of(run, "tiny", "gsm8k-mini")}
    assert set(after) == set(valid_before)
    assert all(after[i] == p for i, p in still_valid.items())  # no valid line lost or changed
    for ds in ("mmlu-mini", "gsm8k-mini"):
        a, b = result_of(run, "tiny", ds), result_of(clean_run, "tiny", ds)
        assert (a.metrics, a.ci95, a.n, a.breakdown) == (b.metrics, b.ci95, b.n, b.breakdown), ds
        assert {r.id: r for r in scored_of(run, "tiny", ds)} == {r.id: r for r in scored_of(clean_run, "tiny", ds)}
    quarantine = preds.with_name("gsm8k-mini.quarantine.jsonl")
    if damage in (garbage_mid_file, garbage_inserted, truncated):
        assert quarantine.is_file()  # the damaged line is kept aside, with its line number
    assert (run / "summary" / "summary.txt").read_text() == (clean_run / "summary" / "summary.txt").read_text()
