"""A generated corpus with a known share of benchmark items planted in it, to measure the checks.

Filler documents are paragraphs of random words (a Zipf-distributed invented vocabulary, some
documents in Chinese characters). Each planted item is rendered as text the way copies of it
appear (a multiple-choice prompt with lettered options, "Question:/Answer:", "Problem:/Solution:",
or question and answer on consecutive lines) and put as its own paragraph at a random place in
its own filler document. Kinds of copies:

* ``verbatim``: the rendered item as is;
* ``edited``: lightly edited: numbers reworded (``12`` -> ``twelve``, ``四十``), options shuffled
  (relettered), case changed (upper/lower/title), whitespace changed (spaces doubled, lines
  joined or split); every edited copy has at least two of these;
* ``paraphrased`` (a stress test beyond "lightly"): also about one word in five replaced and a
  word inserted every eight or so.

``negatives`` are other items of the same benchmarks (other splits: same templates, different
numbers or names) rendered the same way and planted too, but they are not the checked items: they
make a template-sharing corpus, like a training set that holds a benchmark's train split.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from compass.contamination.fields import SampleText
from compass.contamination.normalize import number_in_chinese, number_in_words, tokens

KINDS = ("verbatim", "edited", "paraphrased")
_SYLLABLES = [c + v for c in "bdklmnrstvz" for v in "aeiou"]
_CJK_FILLER = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方"
               "后多定行学法所民得经")
_NUMBER = re.compile(r"(?<![0-9A-Za-z_.,])(?:0|[1-9]\d{0,5})(?![0-9A-Za-z_]|[.,]\d)")
_NUMERALS = "零〇一二三四五六七八九十百千万两"
_SCALE_NEXT = re.compile(r"^[\s-]+(?:\d|hundred|thousand|million|and\s|[a-z]+ty\b|one|two|three|four|five|six|seven|"
                         r"eight|nine|ten|eleven|twelve)", re.IGNORECASE)
_NUMBER_BEFORE = re.compile(r"(?:\d|[a-z]+ty|one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand)[\s-]+$",
                            re.IGNORECASE)


@dataclass(frozen=True)
class Planted:
    dataset: str
    sample_id: str
    kind: str  # verbatim, edited, paraphrased
    doc_id: str


@dataclass
class PlantedCorpus:
    path: Path
    planted: list[Planted] = field(default_factory=list)
    docs: int = 0
    words: int = 0

    keys: dict[tuple, str] = field(default_factory=dict)  # content key of every planted text -> its kind

    def ids(self, dataset: str, kinds: tuple[str, ...] = KINDS) -> set[str]:
        return {p.sample_id for p in self.planted if p.dataset == dataset and p.kind in kinds}

    def truth(self, items: list[SampleText], kinds: tuple[str, ...] = ("verbatim", "edited", "negative")) -> set[str]:
        """Ids of the items whose content (question, option set, answer) was planted as one of ``kinds``:
        a benchmark that holds one item twice (under two subjects) has both copies in the corpus."""
        return {t.id for t in items if self.keys.get(content_key(t)) in kinds}


class Filler:
    """Random paragraphs; ``words_per_doc`` words per document on average."""

    def __init__(self, seed: int = 0, vocabulary: int = 30000):
        self.rng = random.Random(seed)
        vocab = {"".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(1, 4))) for _ in range(vocabulary)}
        self.words = sorted(vocab)
        self.weights = [1 / (rank + 1) for rank in range(len(self.words))]

    def paragraphs(self, n_words: int, chinese: bool = False) -> list[str]:
        out, left = [], n_words
        while left > 0:
            k = min(left, self.rng.randint(40, 120))
            if chinese:
                out.append("".join(self.rng.choices(_CJK_FILLER, k=k)) + "。")
            else:
                out.append(" ".join(self.rng.choices(self.words, self.weights, k=k)) + ".")
            left -= k
        return out


def render(item: SampleText, rng: random.Random) -> str:
    if item.options:
        answer_at = item.options.index(item.answer) if item.answer in item.options else 0
        lines = [item.question] + [f"{'ABCD'[i]}. {o}" for i, o in enumerate(item.options)]
        return "\n".join(lines + [f"{rng.choice(['Answer:', '答案：'])} {'ABCD'[answer_at]}"])
    if item.question.lstrip().startswith(("def ", "from ", "import ")):  # code: prompt, then the rest
        return f"{item.question.rstrip()}\n{item.answer}"
    style = rng.choice(["{q}\n{a}", "Question: {q}\nAnswer: {a}", "Problem: {q}\nSolution: {a}"])
    return style.format(q=item.question, a=item.answer)


def _reword_numbers(text: str, rng: random.Random) -> str:
    chinese = bool(re.search("[\u4e00-\u9fff]", text))

    def swap(m: re.Match) -> str:
        before, after = text[:m.start()], text[m.end():]
        if chinese and ((before and before[-1] in _NUMERALS) or (after and after[0] in _NUMERALS)):
            return m.group()
        if not chinese and (_SCALE_NEXT.match(after) or _NUMBER_BEFORE.search(before)):
            return m.group()  # words next to other numbers would read as one number
        if rng.random() < 0.4:
            return m.group()
        n = int(m.group())
        return number_in_chinese(n) if chinese else number_in_words(n)

    return _NUMBER.sub(swap, text)


def _recase(text: str, rng: random.Random) -> str:
    how = rng.choice(["upper", "lower", "title", "lines"])
    if how == "lines":
        return "\n".join(line.upper() if rng.random() < 0.5 else line for line in text.split("\n"))
    return getattr(text, how)()


def _respace(text: str, rng: random.Random) -> str:
    text = re.sub(r" ", lambda m: rng.choice([" ", " ", "  ", "\t"]), text)
    return re.sub(r"\n", lambda m: rng.choice(["\n", " ", "\n  ", " \n"]), text)


def _paraphrase(text: str, rng: random.Random, filler: Filler) -> str:
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) >= 3 and w.isalpha() and rng.random() < 0.2:
            words[i] = rng.choice(filler.words)
        if rng.random() < 0.12:
            words[i] += " " + rng.choice(filler.words)
    return " ".join(words)


def edited_copy(item: SampleText, rng: random.Random, filler: Filler, kind: str = "edited") -> str:
    """A rendered copy of ``item`` with at least two of the light edits (and paraphrased if asked)."""
    ops = ["numbers", "case", "space"] + (["shuffle"] if item.options else [])
    chosen = rng.sample(ops, rng.randint(2, len(ops)))
    if "shuffle" in chosen:
        options = list(item.options)
        while len(set(options)) > 1 and tuple(options) == item.options:
            rng.shuffle(options)
        item = replace(item, options=tuple(options))
    text = render(item, rng)
    if kind == "paraphrased":
        text = _paraphrase(text, rng, filler)
    if "numbers" in chosen:
        text = _reword_numbers(text, rng)
    if "case" in chosen:
        text = _recase(text, rng)
    if "space" in chosen:
        text = _respace(text, rng)
    return text


def plant_corpus(path: Path, benchmarks: dict[str, list[SampleText]], *, share: float = 0.5,
                 negatives: dict[str, list[SampleText]] | None = None, filler_docs: int = 200,
                 words_per_doc: int = 300, paraphrased: float = 0.0, seed: int = 0) -> PlantedCorpus:
    """Write ``path`` (jsonl: id, text): ``filler_docs`` plain documents, then one document per planted
    copy. Of each benchmark, ``share`` of the items are planted, half verbatim and half edited;
    ``paraphrased`` of the remaining items get a paraphrased copy (reported apart)."""
    rng = random.Random(seed)
    filler = Filler(seed)
    out = PlantedCorpus(path)
    docs: list[tuple[str, str, list[str]]] = []  # (id, kind of doc, paragraphs)

    def host(item_text: str, chinese: bool) -> list[str]:
        paras = filler.paragraphs(words_per_doc, chinese)
        paras.insert(rng.randint(0, len(paras)), item_text)
        return paras

    for name, items in benchmarks.items():
        order = rng.sample(range(len(items)), len(items))
        n_planted = round(share * len(items))
        rest = order[n_planted:]
        chosen = [(i, "verbatim" if k < (n_planted + 1) // 2 else "edited") for k, i in enumerate(order[:n_planted])]
        chosen += [(i, "paraphrased") for i in rest[:round(paraphrased * len(rest))]]
        for i, kind in chosen:
            item = items[i]
            text = render(item, rng) if kind == "verbatim" else edited_copy(item, rng, filler, kind)
            doc_id = f"planted-{len(out.planted):05d}"
            docs.append((doc_id, kind, host(text, _is_chinese(item))))
            out.planted.append(Planted(name, item.id, kind, doc_id))
            out.keys.setdefault(content_key(item), kind)
    for name, items in (negatives or {}).items():
        for k, item in enumerate(items):
            out.keys.setdefault(content_key(item), "negative")
            docs.append((f"negative-{name}-{k:05d}", "negative", host(render(item, rng), _is_chinese(item))))
    for k in range(filler_docs):
        docs.append((f"filler-{k:06d}", "filler", filler.paragraphs(words_per_doc, chinese=rng.random() < 0.1)))
    rng.shuffle(docs)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for doc_id, _, paras in docs:
            f.write(json.dumps({"id": doc_id, "text": "\n\n".join(paras)}, ensure_ascii=False) + "\n")
            out.words += sum(len(p.split()) for p in paras)
    out.docs = len(docs)
    return out


def content_key(item: SampleText) -> tuple:
    return tuple(tokens(item.question)), tuple(sorted(tuple(tokens(o)) for o in item.options)), tuple(tokens(item.answer))


def _is_chinese(item: SampleText) -> bool:
    return bool(re.search("[\u4e00-\u9fff]", item.question))
