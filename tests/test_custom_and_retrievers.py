"""Custom datasets from declared columns, the few-shot retrievers, and chat formatting."""
from __future__ import annotations

import json

import pytest

from compass.config import ModelConfig, RetrieverCfg, load_config
from compass.datasets import load
from compass.datasets.base import Sample
from compass.errors import CompassError
from compass.prompts.retrievers import Retriever

from helpers import compass, predictions_of, write_config


def _custom(path, **reader) -> dict:
    return dict(abbr="mine", type="custom", path=str(path),
                reader_cfg=dict(input_columns=["q"], output_column="a", **reader),
                infer_cfg=dict(ice_template=dict(template="Q: {q}\nA: {gold}\n\n"),
                               prompt_template=dict(template="Q: {q}\nA:"),
                               retriever=dict(type="BM25Retriever", k=1),
                               inferencer=dict(type="GenInferencer", max_out_len=4, stop=["\n"])),
                eval_cfg=dict(evaluator=dict(type="AccEvaluator")))


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_custom_jsonl_and_csv(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    _write_jsonl(d / "test.jsonl", [{"key": "x1", "q": "capital of France", "a": "Paris", "topic": "geo", "doc": 7},
                                    {"key": "x2", "q": "two plus two", "a": "4", "topic": "math", "doc": 7}])
    _write_jsonl(d / "dev.jsonl", [{"key": "d1", "q": "two plus three", "a": "5", "topic": "math", "doc": 1},
                                   {"key": "d2", "q": "capital of Spain", "a": "Madrid", "topic": "geo", "doc": 2}])
    cfg = load_config(write_config(tmp_path / "c.py", [dict(abbr="m", path="x")],
                                   [_custom(d, id_column="key", group_column="topic", cluster_column="doc")]))
    data = load(cfg.datasets[0])
    assert [(s.id, s.gold, s.group, s.cluster) for s in data.test] == [("x1", "Paris", "geo", "7"),
                                                                        ("x2", "4", "math", "7")]
    assert len(data.fewshot) == 2
    (tmp_path / "t.csv").write_text("q,a\nhello,1\nworld,2\n")
    cfg = load_config(write_config(tmp_path / "c2.py", [dict(abbr="m", path="x")], [_custom(tmp_path / "t.csv")]))
    assert [(s.id, s.fields["q"], s.gold) for s in load(cfg.datasets[0]).test] == [("0", "hello", "1"), ("1", "world", "2")]


@pytest.mark.parametrize("content,suffix,expected", [
    ("q,b\nx,1\n", ".csv", r"t.csv:1: header has no column 'a'"),
    ("q,a\nx,1,extra\n", ".csv", r"t.csv:2: expected 2 columns"),
    ('{"q": "x"}\n', ".jsonl", r"t.jsonl:1: missing field 'a'"),
    ('{"q": "x", "a": 1}\n{"q": \n', ".jsonl", r"t.jsonl:2: not valid JSON"),
])
def test_custom_malformed(tmp_path, content, suffix, expected):
    path = tmp_path / f"t{suffix}"
    path.write_text(content)
    cfg = load_config(write_config(tmp_path / "c.py", [dict(abbr="m", path="x")], [_custom(path)]))
    with pytest.raises(CompassError, match=expected):
        load(cfg.datasets[0])


def test_custom_needs_declared_columns(tmp_path):
    ds = _custom(tmp_path / "t.jsonl")
    ds["reader_cfg"] = dict(input_columns=["q"])
    cfg = load_config(write_config(tmp_path / "c.py", [dict(abbr="m", path="x")], [ds]))
    with pytest.raises(CompassError, match="output_column are required"):
        load(cfg.datasets[0])


def _pool():
    return [Sample(str(i), {"question": q}, "g") for i, q in enumerate(
        ["how many apples are in the basket", "what is the capital city", "convert hours to minutes",
         "apples and oranges in a basket", "the capital of a country"])]


def test_lexical_topk_picks_overlapping_examples():
    retriever = Retriever(RetrieverCfg("lexical_topk", k=2), _pool(), None, "test")
    shots = retriever.select(Sample("t", {"question": "apples in my basket"}, "x"))
    assert [s.id for s in shots] == ["3", "0"]  # both share three words; the shorter one ranks first
    assert retriever.select(Sample("u", {"question": "capital city of a country"}, "x"))[0].id in {"1", "4"}


def test_random_retriever_is_seeded_by_sample_id_only():
    cfg = RetrieverCfg("random", k=2, seed=3)
    a = Retriever(cfg, _pool(), None, "t").select(Sample("s1", {"question": "q"}, "x"))
    b = Retriever(cfg, list(_pool()), None, "t").select(Sample("s1", {"question": "other"}, "x"))
    assert [s.id for s in a] == [s.id for s in b]
    with pytest.raises(CompassError, match="k=9 few-shot examples asked"):
        Retriever(RetrieverCfg("random", k=9), _pool(), None, "t").select(Sample("s", {}, "x"))


def test_chat_format_uses_template_or_chatml_fallback(tiny_model):
    from compass.models.hf import HFCausalLM

    backend = HFCausalLM(ModelConfig(abbr="t", path=str(tiny_model), chat=True))
    assert not backend.tokenizer.chat_template
    assert backend.encoder.format("hi") == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    backend.tokenizer.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{% endfor %}>>"
    assert backend.encoder.format("hi") == "[user] hi>>"
    # A model's system prompt opens every conversation, with the template or without one.
    system = HFCausalLM(ModelConfig(abbr="t", path=str(tiny_model), chat=True, system_prompt="Be brief."))
    assert system.encoder.format("hi") == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
                                           "<|im_start|>assistant\n")
    system.tokenizer.chat_template = backend.tokenizer.chat_template
    assert system.encoder.format("hi") == "[system] Be brief.[user] hi>>"


def test_custom_dataset_end_to_end(tmp_path, tiny_model):
    _write_jsonl(tmp_path / "test.jsonl", [{"q": f"question {i}", "a": str(i)} for i in range(4)])
    _write_jsonl(tmp_path / "dev.jsonl", [{"q": f"example {i}", "a": str(i)} for i in range(3)])
    cfg = write_config(tmp_path / "cfg.py", [dict(abbr="tiny", path=str(tiny_model))], [_custom(tmp_path)])
    proc = compass("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = list((tmp_path / "outputs" / "cfg").iterdir())
    rows = predictions_of(run, "tiny", "mine")
    assert len(rows) == 4 and all(r.prompt.startswith("Q: example") for r in rows)
