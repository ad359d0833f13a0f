"""Needle in a haystack: end to end with the heatmap, needle placement measured by the tokenizer,
the evaluator's length × depth grid, and bad grids rejected with one line naming the key."""
from __future__ import annotations

import re
from bisect import bisect_right
from pathlib import Path

import pytest

from compass import datasets
from compass.config import DatasetConfig, EvalCfg, load_config, read_python_config
from compass.datasets import haystack
from compass.datasets import needle as nd
from compass.errors import CompassError
from compass.records import Grid
from compass.schema import from_dict
from compass.store import RunDir

from helpers import REPO, compass, error_line, predictions_of, result_of, score_rows, scored_of, write_config

NEEDLE_RE = re.compile(r"The secret code of the (\w+) vault is (\d+)\.")
MINI = read_python_config(REPO / "datasets_cfg" / "needle" / "needle_mini_gen.py")["needle_datasets"]


def needle_dataset(tokenizer: Path, **grid) -> dict:
    base = MINI[0]
    return dict(base, needle_cfg=dict(base["needle_cfg"], tokenizer_path=str(tokenizer), **grid))


def load(cfg: dict):
    return datasets.load(from_dict(DatasetConfig, cfg, "test")).test


@pytest.fixture(scope="module")
def tok(tiny_model):
    return nd.load_tokenizer(str(tiny_model))


def test_mini_grid_end_to_end_with_heatmap(tmp_path, tiny_model):
    # The shipped mini configs, with the tiny model's tokenizer and (for speed) 6 new tokens.
    sets = [dict(d, needle_cfg=dict(d["needle_cfg"], tokenizer_path=str(tiny_model)),
                 infer_cfg=dict(d["infer_cfg"], inferencer=dict(d["infer_cfg"]["inferencer"], max_out_len=6)))
            for d in MINI]
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model), batch_size=18)], sets)
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    for ds, primary in (("needle-mini", "accuracy"), ("needle-multi3-mini", "score")):
        result = result_of(run, "tiny", ds)
        rows = scored_of(run, "tiny", ds)
        assert result.primary == primary and result.n == len(rows) == 3 * 3 * 2
        grid = result.grids["needle"]
        assert grid.lengths == [128, 256, 512] and grid.depths == [0, 50, 100]
        assert grid.n == [[2, 2, 2]] * 3
        # Each cell is the mean outcome of its samples, as the scored lines record them.
        for i, length in enumerate(grid.lengths):
            for j, depth in enumerate(grid.depths):
                cell = [r for r in rows if r.id.startswith(f"{length}/{depth}/")]
                outcomes = [float(r.correct if primary == "accuracy" else r.score) for r in cell]
                assert grid.score[i][j] == pytest.approx(sum(outcomes) / 2)
        assert all(NEEDLE_RE.search(r.prompt) for r in predictions_of(run, "tiny", ds))
    html = (run / "summary" / "summary.html").read_text()
    for ds in ("needle-mini", "needle-multi3-mini"):
        assert f"Needle in a haystack: {ds}" in html
        assert f"Breakdown: {ds}" not in html  # the heatmap replaces 18 bars
    section = html[html.index("Needle in a haystack: needle-mini"):html.index("<h2>Samples</h2>")]
    assert section.count("<svg") == 2 and "<text" not in section  # text drawn as paths
    md = (run / "summary" / "summary.md").read_text()
    assert "| needle-mini | accuracy |" in md and "| needle-multi3-mini | score |" in md


def _needle_spans(context: str, tok) -> tuple[int, list[tuple[int, int, str, str]]]:
    """(context tokens, [(first token, tokens, city, value)] per needle in order of appearance)."""
    ends = [e for _, e in tok(context, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]]
    spans = []
    for m in NEEDLE_RE.finditer(context):
        first = bisect_right(ends, m.start())
        spans.append((first, bisect_right(ends, m.end() - 1) + 1 - first, m.group(1), m.group(2)))
    return len(ends), spans


def _check_placement(samples, tok, num_needles: int) -> None:
    longest = max(nd.count_tokens(tok, s) for p, _ in zip(haystack.synthetic_paragraphs(0), range(300)) for s in p)
    for sample in samples:
        length, depth, _ = sample.id.split("/")
        context = sample.fields["context"]
        n, spans = _needle_spans(context, tok)
        assert abs(n - int(length)) <= 2, (sample.id, n)
        assert len(spans) == num_needles
        hay_tokens = n - sum(s[1] for s in spans)
        before = 0  # needle tokens ahead of the current needle
        for (first, size, _, _), target in zip(spans, nd.spread_depths(float(depth), num_needles)):
            assert abs(first - before - target / 100 * hay_tokens) <= longest, (sample.id, first, target)
            before += size
        for m in NEEDLE_RE.finditer(context):  # at a sentence start, or at the very end (needles only after it)
            if NEEDLE_RE.sub("", context[m.end():]).strip():
                assert m.start() == 0 or context[:m.start()].endswith((". ", ".\n\n")), context[m.start() - 20:m.end()]
                assert re.match(r" [A-Z]", context[m.end():m.end() + 2])
        cities, values = [s[2] for s in spans], [s[3] for s in spans]
        gold = sample.gold if isinstance(sample.gold, list) else [sample.gold]
        assert values == gold and len(set(values)) == num_needles  # gold lists needles in context order
        assert sample.fields["question"] == nd.question([nd.Needle(c, v) for c, v in zip(cities, values)])
        assert not re.search(r"\d", NEEDLE_RE.sub("", context))  # the values are the only numbers


def test_needles_sit_at_token_depths_in_contexts_of_exact_length(tiny_model, tok):
    single = load(needle_dataset(tiny_model, lengths=[256, 1024, 2048], depths=[0, 10, 25, 50, 75, 90, 100]))
    assert [s.id for s in single[:3]] == ["256/0/0", "256/0/1", "256/10/0"] and single[2].group == "256@10"
    _check_placement(single, tok, 1)
    # Deep needles really are deep: at 2048 tokens, depth 90 is past 1500 tokens and depth 10 before 500.
    depth_of = {s.id: _needle_spans(s.fields["context"], tok)[1][0][0] for s in single if s.id.startswith("2048/")}
    assert depth_of["2048/10/0"] < 500 < 1500 < depth_of["2048/90/0"] and depth_of["2048/100/1"] > 1900
    multi = load(needle_dataset(tiny_model, lengths=[512, 2048], depths=[0, 40, 100], num_needles=3))
    _check_placement(multi, tok, 3)
    assert "What are the secret codes of the" in multi[0].fields["question"]
    assert NEEDLE_RE.match(multi[0].fields["context"])  # depth 0: the first needle opens the context
    assert all(isinstance(s.gold, list) and len(s.gold) == 3 for s in multi)


def test_needles_are_deterministic_per_cell(tiny_model):
    grid = load(needle_dataset(tiny_model, lengths=[128, 256], depths=[0, 50], num_samples=3))
    again = load(needle_dataset(tiny_model, lengths=[128, 256], depths=[0, 50], num_samples=3))
    assert [(s.id, s.fields, s.gold) for s in grid] == [(s.id, s.fields, s.gold) for s in again]
    # A cell's samples do not depend on the rest of the grid, and differ from each other.
    alone = load(needle_dataset(tiny_model, lengths=[256], depths=[50], num_samples=3))
    assert [(s.id, s.fields, s.gold) for s in alone] == [(s.id, s.fields, s.gold) for s in grid if s.group == "256@50"]
    assert len({s.gold for s in grid}) == len(grid)
    reseeded = load(needle_dataset(tiny_model, lengths=[256], depths=[50], num_samples=3, seed=1))
    assert [s.gold for s in reseeded] != [s.gold for s in alone]


def test_slow_tokenizer_fallback_places_needles_like_offsets(tok):
    class Slow:  # the fast tokenizer seen through a slow one's interface: no offsets
        is_fast = False

        def __call__(self, text, **kwargs):
            return tok(text, add_special_tokens=False)

        def decode(self, ids):
            return tok.decode(ids)

    fast_hay, slow_hay = nd.build_haystack(tok, "synthetic", 0, 1100), nd.build_haystack(Slow(), "synthetic", 0, 1100)
    longest = max(b - a for a, b in zip(fast_hay.starts, fast_hay.starts[1:]))
    needle = nd.NEEDLE.format(city="Oslo", value="1234567")
    for depth in (0, 30, 70, 100):
        fast = nd.build_context(tok, fast_hay, 1000, [depth], [needle])
        slow = nd.build_context(Slow(), slow_hay, 1000, [depth], [needle])
        assert abs(nd.count_tokens(tok, slow) - 1000) <= 2
        assert abs(fast.index(needle) - slow.index(needle)) <= longest


def test_haystack_from_text_files(tmp_path, tiny_model, tok):
    (tmp_path / "essays").mkdir()
    (tmp_path / "essays" / "a.txt").write_text("One short essay. It has two paragraphs.\n\nThe second one is here!\n")
    cfg = dict(needle_dataset(tiny_model, lengths=[300], depths=[50], num_samples=1), path=str(tmp_path / "essays"))
    (sample,) = load(cfg)
    assert "It has two paragraphs." in sample.fields["context"] and NEEDLE_RE.search(sample.fields["context"])
    assert abs(nd.count_tokens(tok, sample.fields["context"]) - 300) <= 2  # the short text is repeated
    with pytest.raises(CompassError, match="haystack text not found"):
        load(dict(cfg, path=str(tmp_path / "missing")))
    with pytest.raises(CompassError, match=r"needle_cfg.lengths: 20 tokens cannot hold 3 needle"):
        load(needle_dataset(tiny_model, lengths=[20], num_needles=3))
    with pytest.raises(CompassError, match=r"needle_cfg.tokenizer_path: cannot load a tokenizer from '/nonexistent"):
        load(needle_dataset(Path("/nonexistent/model")))


def _row(sample_id: str, answer: str, gold) -> dict:
    return {"id": sample_id, "prediction": answer, "gold": gold, "group": "@".join(sample_id.split("/")[:2])}


def test_evaluator_builds_the_exact_grid(tmp_path):
    # lengths 100, 200 x depths 0, 50, 100; two samples per cell; which answers are right is fixed below.
    right = {(100, 0): 2, (100, 50): 1, (100, 100): 0, (200, 0): 1, (200, 50): 2, (200, 100): 2}
    rows = []
    for (length, depth), k in right.items():
        for i in range(2):
            value = f"{length}{depth:03d}{i}"
            answer = f"The code is {value}." if i < k else f"The code is {value}9."  # a longer number is wrong
            rows.append(_row(f"{length}/{depth}/{i}", answer, value))
    result = score_rows(rows, from_dict(EvalCfg, {"evaluator": {"type": "needle"}}, "e"), RunDir(tmp_path))
    assert result.grids["needle"] == Grid([100, 200], [0.0, 50.0, 100.0], [[1.0, 0.5, 0.0], [0.5, 1.0, 1.0]],
                                          [[2, 2, 2], [2, 2, 2]])
    assert result.primary == "accuracy" and result.metrics["accuracy"].value == 8 / 12
    assert result.breakdown["100@50"].value == 0.5
    assert set(result.metrics) == {"accuracy"}

    # Multi-needle: the fraction of values found, in any order; one cell left empty.
    multi = [_row("100/0/0", "7654321 and 1234567", ["1234567", "7654321"]),
             _row("100/0/1", "1,234,567", ["1234567", "7654321"]),
             _row("100/100/0", "nothing", ["1234567", "7654321"]),
             _row("300/100/0", "12345678 7654321", ["1234567", "7654321"])]
    scored = score_rows(multi, from_dict(EvalCfg, {"evaluator": {"type": "NeedleEvaluator"}}, "e"), RunDir(tmp_path))
    assert [r.score for r in scored.scored] == [1.0, 0.5, 0.0, 0.5] and all(r.correct is None for r in scored.scored)
    assert scored.primary == "score" and scored.grids["needle"] == Grid(
        [100, 300], [0.0, 100.0], [[0.75, 0.0], [None, 0.5]], [[2, 1], [0, 1]])


@pytest.mark.parametrize("grid, message", [
    (dict(depths=[0, 50, 120]), "needle_cfg.depths[2]: must be a percentage in [0, 100], got 120"),
    (dict(depths=[-5]), "needle_cfg.depths[0]: must be a percentage in [0, 100], got -5"),
    (dict(lengths=[128, 0]), "needle_cfg.lengths[1]: must be >= 1 token, got 0"),
    (dict(lengths=[-64]), "needle_cfg.lengths[0]: must be >= 1 token, got -64"),
    (dict(tokenizer_path=None), "needle_cfg.tokenizer_path: required key is missing"),
    (dict(depths=[0, 0]), "needle_cfg.depths: holds a value twice"),
    (dict(num_needles=0), "needle_cfg.num_needles: must be in [1, 20], got 0"),
    (dict(lenghts=[64]), "needle_cfg.lenghts: unknown key (did you mean 'lengths'?)"),
    (None, "needle_cfg: required for type 'needle'"),
])
def test_bad_grid_is_one_line_naming_the_key(tmp_path, grid, message):
    base = needle_dataset(Path("/some/model"))
    if grid is None:
        ds = {k: v for k, v in base.items() if k != "needle_cfg"}
    else:
        needle_cfg = {k: v for k, v in {**base["needle_cfg"], **grid}.items() if v is not None}
        ds = dict(base, needle_cfg=needle_cfg)
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path="/some/model")], [ds])
    with pytest.raises(CompassError) as err:
        load_config(cfg)
    assert str(err.value).startswith(f"{cfg}: datasets[0].{message}") and "\n" not in str(err.value)


def test_bad_grid_through_the_cli(tmp_path):
    ds = needle_dataset(Path("/some/model"), depths=[0, 101])
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path="/some/model")], [ds])
    proc = compass("run", str(cfg), "--dry-run", cwd=tmp_path)
    assert proc.returncode == 2
    expected = f"{cfg}: datasets[0].needle_cfg.depths[1]: must be a percentage in [0, 100], got 101"
    assert error_line(proc) == f"compass: error: {expected}"


def test_needle_cfg_on_another_dataset_type(tmp_path):
    ds = dict(needle_dataset(Path("/some/model")), type="gsm8k")
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="m", path="/some/model")], [ds])
    with pytest.raises(CompassError, match=r"datasets\[0\]\.needle_cfg: only type 'needle' reads it, this .* 'gsm8k'"):
        load_config(cfg)
