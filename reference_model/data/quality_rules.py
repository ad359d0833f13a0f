"""Quality rules for prose and code: each rule measures one feature and scores it in [0, 1].

Prose follows Gopher's quality filters (Rae et al. 2021, appendix A: mean word length 3-10,
symbol-to-word ratio <= 0.1, <= 90 % bullet lines, <= 30 % lines ending in an ellipsis, >= 80 % of
words with a letter, stop words present) and its repetition filters (duplicate-line and
duplicate-paragraph fractions, the characters covered by the most frequent 2-4-grams and by
duplicated 5-10-grams), C4's line rules (terminal punctuation, boilerplate phrases, "lorem
ipsum") and one word-order rule of ours: in English a determiner is almost never followed by
another function word ("the of", "a and"), while in word salad drawn from real word frequencies
it is, about as often as function words occur. Code rules look at line length, the share of
letters, duplicate lines and whether indentation follows block openers (shuffled lines break it).

A rule scores 1 inside its published range and falls linearly to 0 over a margin outside it; the
document's score is the product, so one badly broken rule is enough to reject, and the rules below
1 are the reasons.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
GOPHER_STOP = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])
DETERMINERS = frozenset(["the", "a", "an"])
FUNCTION = frozenset(["the", "a", "an", "of", "to", "in", "and", "or", "is", "are", "was", "were", "be", "for", "on",
                      "with", "as", "by", "at", "from", "that", "it", "but", "if", "not", "this"])
BOILERPLATE = re.compile(r"(?i)\b(?:cookies?|javascript|terms of (?:use|service)|privacy policy|all rights reserved|"
                         r"lorem ipsum|click here|subscribe|sign (?:in|up)|log ?in|skip to (?:main )?content|"
                         r"share (?:on|this)|follow us|newsletter|read more|back to top|accept all)\b")
TERMINAL = (".", "!", "?", '"', "'", ":", ")", "”", "’")
# A sentence end (a word of 2+ letters, then . ! or ?, one space) and the next word's first letter;
# "e.g. x", "etc. and", ".. note::" and "os.path" do not count.
_AFTER_STOP = re.compile(r"(?<=[^\W\d_]{2})(?<!\betc)[.!?] ([^\W\d_])")


@dataclass
class Rule:
    name: str
    measure: Callable[[dict], float]
    lo: float
    hi: float
    margin: float
    min_words: int = 0  # shorter documents pass this rule: its statistic means little on them

    def score(self, value: float) -> float:
        if self.lo <= value <= self.hi:
            return 1.0
        gap = self.lo - value if value < self.lo else value - self.hi
        return max(0.0, 1.0 - gap / self.margin)


def _dup_ngram_char_frac(words: list[str], n: int) -> float:
    """Share of word characters inside n-grams that occur more than once (Gopher)."""
    if len(words) < n + 1:
        return 0.0
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    covered = [False] * len(words)
    for i, g in enumerate(grams):
        if counts[g] > 1:
            for j in range(i, i + n):
                covered[j] = True
    total = sum(map(len, words)) or 1
    return sum(len(w) for w, c in zip(words, covered) if c) / total


def _top_ngram_char_frac(words: list[str], n: int) -> float:
    if len(words) < n + 1:
        return 0.0
    gram, count = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1)).most_common(1)[0]
    return count * sum(map(len, gram)) / (sum(map(len, words)) or 1) if count > 1 else 0.0


def prose_features(text: str) -> dict:
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    # Headings, rules ("-----") and "Parameters" lines repeat by design; repeated sentences do not.
    long_lines = [ln for ln in lines if len(ln.split()) >= 3]
    words = [w.lower() for w in _WORD.findall(text)]
    tokens = text.split()
    n_words = max(len(words), 1)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    det_next = [words[i + 1] for i in range(len(words) - 1) if words[i] in DETERMINERS]
    after_stop = _AFTER_STOP.findall(text)
    return {
        "words": len(words), "lines": lines, "words_list": words,
        "mean_word_len": sum(map(len, words)) / n_words,
        "symbol_ratio": (text.count("#") + text.count("...") + text.count("…")) / n_words,
        "bullet_lines": sum(ln.startswith(("-", "*", "•", "·", "‣", "▪")) for ln in lines) / max(len(lines), 1),
        "ellipsis_lines": sum(ln.endswith(("...", "…")) for ln in lines) / max(len(lines), 1),
        "alpha_tokens": sum(any(c.isalpha() for c in t) for t in tokens) / max(len(tokens), 1),
        "stop_words": len(GOPHER_STOP & set(words)),
        "stop_ratio": sum(w in FUNCTION for w in words) / n_words,
        "det_function": sum(w in FUNCTION for w in det_next) / len(det_next) if len(det_next) >= 3 else 0.0,
        "lower_after_stop": sum(c.islower() for c in after_stop) / len(after_stop) if len(after_stop) >= 3 else 0.0,
        "dup_lines": 1 - len(set(long_lines)) / len(long_lines) if long_lines else 0.0,
        "dup_paragraphs": 1 - len(set(paragraphs)) / len(paragraphs) if paragraphs else 0.0,
        "dup_line_chars": (sum(len(ln) * (c - 1) for ln, c in Counter(long_lines).items())
                           / max(sum(map(len, lines)), 1)),
        "top_2gram": _top_ngram_char_frac(words, 2), "top_3gram": _top_ngram_char_frac(words, 3),
        "top_4gram": _top_ngram_char_frac(words, 4),
        "dup_5gram": _dup_ngram_char_frac(words, 5), "dup_10gram": _dup_ngram_char_frac(words, 10),
        "unterminated_short_lines": sum(len(ln.split()) < 4 and not ln.endswith(TERMINAL) for ln in lines)
        / max(len(lines), 1),
        "boilerplate_phrases": len(BOILERPLATE.findall(text)) / max(len(lines), 1),
    }


def _f(key: str) -> Callable[[dict], float]:
    return lambda f: f[key]


# Gopher's rules assume documents of 50+ words: in "Wait until the process exit and return the process
# return code." one repeated bigram covers 27 % of the characters.
SHORT = 50

PROSE_RULES = [
    Rule("mean_word_len", _f("mean_word_len"), 3, 10, 2),
    Rule("symbol_ratio", _f("symbol_ratio"), 0, 0.1, 0.1),
    Rule("bullet_lines", _f("bullet_lines"), 0, 0.9, 0.1),
    Rule("ellipsis_lines", _f("ellipsis_lines"), 0, 0.3, 0.2),
    Rule("alpha_tokens", _f("alpha_tokens"), 0.8, 1, 0.2),
    Rule("stop_words", _f("stop_words"), 2, 8, 2, min_words=SHORT),
    Rule("stop_ratio", _f("stop_ratio"), 0.06, 0.6, 0.06),
    Rule("det_function", _f("det_function"), 0, 0.08, 0.12),
    Rule("lower_after_stop", _f("lower_after_stop"), 0, 0.3, 0.3),
    Rule("dup_lines", _f("dup_lines"), 0, 0.3, 0.2),
    Rule("dup_paragraphs", _f("dup_paragraphs"), 0, 0.3, 0.2),
    Rule("dup_line_chars", _f("dup_line_chars"), 0, 0.2, 0.2),
    Rule("top_2gram", _f("top_2gram"), 0, 0.2, 0.1, min_words=SHORT),
    Rule("top_3gram", _f("top_3gram"), 0, 0.18, 0.1, min_words=SHORT),
    Rule("top_4gram", _f("top_4gram"), 0, 0.16, 0.1, min_words=SHORT),
    # Gopher stops at 0.15 (5-grams) and 0.10 (10-grams); templated docstrings ("Parameters ------
    # x : array_like", "Return the ... of the ...") reach 0.3-0.6 in real modules, pasted repetition
    # 0.5-1.0 (docs/reference_model.md); the top-n-gram rules catch loops below that.
    Rule("dup_5gram", _f("dup_5gram"), 0, 0.5, 0.3),
    Rule("dup_10gram", _f("dup_10gram"), 0, 0.5, 0.3),
    Rule("unterminated_short_lines", _f("unterminated_short_lines"), 0, 0.4, 0.3),
    Rule("boilerplate_phrases", _f("boilerplate_phrases"), 0, 0.1, 0.3),
]

_OPENERS = (":", "{", "(", "[", ",", "\\", "=", "+", "-", "*", "/", "&", "|", "and", "or", '"""', "'''")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def code_features(text: str) -> dict:
    lines = text.split("\n")
    nonblank = [ln for ln in lines if ln.strip()]
    content = [ln.strip() for ln in nonblank if len(ln.strip()) > 3]  # "}", "else:", "pass" repeat by design
    jumps = bad = 0
    in_string = False  # text inside triple-quoted strings is indented as prose, not as code
    for prev, cur in zip(nonblank, nonblank[1:]):
        in_string ^= (prev.count('"""') + prev.count("'''")) % 2 == 1
        if not in_string and _indent(cur) > _indent(prev):
            jumps += 1
            bad += not prev.rstrip().endswith(_OPENERS)
    return {
        "long_lines": sum(len(ln) > 200 for ln in lines) / max(len(lines), 1),
        "alpha_chars": sum(c.isalpha() for c in text) / max(len(text), 1),
        "dup_lines": 1 - len(set(content)) / len(content) if content else 0.0,
        "unexplained_indents": bad / jumps if jumps >= 3 else 0.0,
        "dup_10gram": _dup_ngram_char_frac(_WORD.findall(text), 10),
    }


CODE_RULES = [
    Rule("long_lines", _f("long_lines"), 0, 0.05, 0.2),
    Rule("alpha_chars", _f("alpha_chars"), 0.3, 0.9, 0.2),
    Rule("dup_lines", _f("dup_lines"), 0, 0.25, 0.25),
    Rule("unexplained_indents", _f("unexplained_indents"), 0, 0.25, 0.1),
    Rule("dup_10gram", _f("dup_10gram"), 0, 0.35, 0.3),
]


def evaluate(text: str, kind: str) -> tuple[float, list[str]]:
    """(score, reasons): the product of rule scores, and each rule below 1 as ``name=value``."""
    feats, rules = (code_features(text), CODE_RULES) if kind == "code" else (prose_features(text), PROSE_RULES)
    if kind != "code" and feats["words"] == 0:
        return 0.0, ["no_words"]
    score, reasons = 1.0, []
    for rule in rules:
        if feats.get("words", SHORT) < rule.min_words:
            continue
        value = rule.measure(feats)
        s = rule.score(value)
        if s < 1:
            reasons.append(f"{rule.name}={value:.3g}")
        score *= s
    return score, reasons
