"""The parts the labels rest on: normalisation (symmetric, numbers in words), Llama 2 coverage with the
skip budget, the numbers rule, template tokens, the fields checked per benchmark family, the light
edits the planted copies get, and the one-document longest match."""
from __future__ import annotations

import random

import numpy as np

from compass.contamination import coverage
from compass.contamination.fields import SampleText, sample_texts
from compass.contamination.minhash import passages
from compass.contamination.minisets import write_minisets
from compass.contamination.normalize import number_in_chinese, number_in_words, paragraph_tokens, tokens
from compass.contamination.planting import Filler, content_key, edited_copy, render


def test_numbers_in_words_and_chinese_numerals_read_as_digits():
    for n in [*range(0, 1200), 1999, 2024, 10000, 12345, 100005, 999999, 1000000, 7654321]:
        assert tokens(number_in_words(n)) == [str(n)], (n, number_in_words(n))
        assert tokens(number_in_chinese(n)) == [str(n)], (n, number_in_chinese(n))
    assert tokens("Twenty-one APPLES and 1,000 pears; two three") == ["21", "apples", "and", "1000", "pears", "2", "3"]
    assert tokens("四十年等于多少个月？") == ["40", "年", "等", "于", "多", "少", "个", "月"]


def test_tokens_ignore_case_whitespace_punctuation_labels_and_scaffolding():
    a = "Question: What is 40 - 18?\nA. 24\nB. 32\nAnswer: C"
    b = "what   is forty-eighteen ?\n\tA) twenty-four   (B) 32 answer c"
    assert tokens(a) == tokens(b) == ["what", "is", "40", "18", "24", "32"]
    assert tokens("def has_close_elements(x: List[float]) -> bool:") == ["def", "has_close_elements", "list", "float",
                                                                          "bool"]
    assert paragraph_tokens("one two\n \n\nthree") == [["1", "2"], ["3"]]  # no number runs across a blank line


def test_coverage_bridges_inner_gaps_within_the_skip_budget_only():
    matched = np.zeros(30, dtype=bool)
    matched[[0, 1, 12]] = True  # 8-grams: tokens 0-8 and 12-19 matched; gap 9-11
    mask = coverage.covered(matched, 8, 30, skip_budget=4)
    assert mask[:20].all() and not mask[20:].any()  # the 3-token gap is bridged, the tail is not
    assert not coverage.covered(matched, 8, 30, skip_budget=2)[9:12].any()  # gap over the budget
    assert coverage.covered(matched, 8, 30, skip_budget=0)[9:12].sum() == 0
    matched = np.zeros(40, dtype=bool)
    matched[[0, 11, 22]] = True  # two gaps of 3: the budget of 4 bridges the first only
    mask = coverage.covered(matched, 8, 40, skip_budget=4)
    assert mask[8:11].all() and not mask[19:22].any()
    assert coverage.longest_run(np.array([1, 1, 0, 1, 1, 1], dtype=bool), 8) == 10


def test_labels_use_informative_tokens_and_require_every_number():
    informative = np.array([False] * 6 + [True] * 4)
    mask = np.array([True] * 6 + [True, True, True, False])
    assert coverage.share(mask, informative) == 0.75  # template tokens do not count
    assert coverage.share(mask, np.zeros(10, dtype=bool)) == 0.9  # no informative token: all count
    assert coverage.label(0.85, 0.2, 0.8) == "contaminated"
    assert coverage.label(0.85, 0.2, 0.8, numbers_match=False) == "partial"
    assert coverage.label(0.1, 0.2, 0.8) == "clean"
    sets = [{"which", "is", "largest", str(i)} for i in range(20)] + [{"capital", "kakano"}]
    assert coverage.template_tokens(sets, coverage.Thresholds()) == {"which", "is", "largest"}


def test_fields_per_family(tmp_path):
    sets = write_minisets(tmp_path)
    mmlu, gsm, math, he = (sets[k].items[0] for k in ("mmlu-mini", "gsm8k-mini", "math-mini", "humaneval-mini"))
    assert len(mmlu.options) == 4 and mmlu.answer in mmlu.options and mmlu.options[0] not in mmlu.question
    assert "####" in gsm.answer and not gsm.options
    assert "boxed" in math.answer
    assert he.question.startswith(("def ", "from ")) and "return" in he.answer
    assert he.answer not in he.question  # the solution is the answer, never part of the question
    assert sample_texts(sets["gsm8k-mini"].cfg, []) == []


def test_edited_copies_differ_in_text_and_not_in_content():
    rng, filler = random.Random(1), Filler(1)
    items = [SampleText("m", "What is 40 - 18?", ("24", "32", "22", "23"), "22"),
             SampleText("g", "Ana has 13 cards. She buys 3 packs of 14 cards.", (), "3 * 14 = 42\n#### 55"),
             SampleText("c", "今天是星期三，再过7天是星期几？", ("星期五", "星期二", "星期四", "星期三"), "星期三")]
    for item in items:
        for _ in range(30):
            copy = edited_copy(item, rng, filler)
            assert copy != render(item, random.Random(0))
            toks = tokens(copy)
            assert set(tokens(item.question)) <= set(toks)
            assert all(t in toks for o in item.options for t in tokens(o))
    assert content_key(items[0]) == content_key(SampleText("x", "WHAT is 40-18", ("23", "22", "32", "24"), "22"))


def test_passages_join_short_paragraphs_and_cut_long_ones():
    assert passages([3, 4, 20, 5]) == [(0, 32)]
    assert passages([10, 10]) == [(0, 10), (10, 20)]
    assert passages([300]) == [(0, 128), (64, 192), (128, 256), (172, 300)]
