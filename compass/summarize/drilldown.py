"""The report's per-sample data: what each model was asked and answered, for the drill-down and the
side-by-side comparison of two models.

Each prompt is split at its ``question_at`` into the sample's own question and what came before it
(``begin`` and the few-shot examples); that shared part is stored once and referenced by index, since
it is usually the same for every sample. Multiple-choice rows carry each choice's probability, the
softmax of its log-likelihood among the choices, labelled with the dataset config's ``choices``.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compass import records
from compass.config import Config, Thinking
from compass.evaluators.thinking import split_thinking
from compass.records import Prediction, Scored
from compass.schema import from_dict
from compass.store import RunDir, read_json
from compass.summarize.tables import Column

MAX_SAMPLES = 2000  # per model and dataset; the run's files hold them all
MAX_TEXT = 6000  # characters of a prompt part, prediction or answer shown


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):  # sampled completions
        return "\n\n".join(f"[{i}/{len(value)}] {v}" for i, v in enumerate(value, 1))
    return json.dumps(value, ensure_ascii=False)  # structured gold: test code, needle values


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f" … [{len(text) - MAX_TEXT} more characters]"


def choice_probabilities(logprobs: list[float]) -> list[float]:
    """Each choice's probability given that the answer is one of the choices (softmax)."""
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def run_config(run: RunDir, cache: dict[Path, Config | None]) -> Config | None:
    """The run's resolved config (None if absent), read once per run."""
    path = run.root / "configs" / "resolved.json"
    if path not in cache:
        cache[path] = from_dict(Config, read_json(path), str(path)) if path.is_file() else None
    return cache[path]


def choice_labels(cfg: Config | None) -> dict[str, list[str]]:
    """Dataset abbr -> the inferencer's choices (none without a config)."""
    return {d.abbr: list(d.infer_cfg.inferencer.choices) for d in cfg.datasets} if cfg else {}


def thinking(cfg: Config | None, model: str) -> Thinking | None:
    return next((m.thinking for m in cfg.models if m.abbr == model), None) if cfg else None


@dataclass(frozen=True)
class _Sample:
    scored: Scored
    prediction: Prediction | None

    @property
    def failed(self) -> bool:
        return self.scored.value < 0.5

    @property
    def answer(self) -> str:
        return _text(self.scored.extracted)


class _Texts:
    """Distinct shared prompt parts, each stored once, in order of first use."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def ref(self, text: str) -> int:
        if not text:
            return -1
        if text not in self._index:
            self._index[text] = len(self.items)
            self.items.append(_clip(text))
        return self._index[text]


def _load(column: Column, ds: str) -> dict[str, _Sample] | None:
    path = column.run.scored(column.model, ds)
    if not path.exists():
        return None
    predictions = {p.id: p for p in records.read_log(column.run.predictions(column.model, ds), Prediction).records}
    return {s.id: _Sample(s, predictions.get(s.id)) for s in records.read_lines(path, Scored)}


def _selected_ids(by_model: list[dict[str, _Sample]]) -> set[str]:
    """Up to MAX_SAMPLES ids shared by every model's drill-down, so two models compare on the same
    samples: those the models answer differently first, then those any model failed."""
    order = list(dict.fromkeys(i for samples in by_model for i in samples))

    def rank(sample_id: str) -> int:
        present = [s[sample_id] for s in by_model if sample_id in s]
        if len({(x.answer, x.failed) for x in present}) > 1:
            return 0
        return 1 if any(x.failed for x in present) else 2
    return set(sorted(order, key=rank)[:MAX_SAMPLES])


def _row(sample: _Sample, labels: list[str] | None, texts: _Texts, tags: Thinking | None = None) -> dict[str, Any]:
    scored, pred = sample.scored, sample.prediction
    prompt = pred.prompt if pred else ""
    # A position outside the prompt would hide part of it: show the whole prompt as the question.
    split = pred.question_at if pred and pred.question_at and 0 < pred.question_at <= len(prompt) else 0
    answer = sample.answer
    row: dict[str, Any] = {
        "id": scored.id, "question": _clip(prompt[split:]), "context": texts.ref(prompt[:split]),
        "prediction": _clip(_text(pred.prediction) if pred else ""), "extracted": _clip(answer),
        "gold": _clip(_text(pred.gold) if pred else ""), "failed": sample.failed,
        "verdict": ("yes" if scored.correct else "no") if scored.correct is not None else f"{scored.value:.2f}",
    }
    if tags and pred:  # a reasoning model: its thinking apart from its answer
        outputs = pred.prediction if isinstance(pred.prediction, list) else [pred.prediction]
        splits = [split_thinking(o, tags) for o in outputs]
        row["thinking"] = _clip(_text([s.thinking for s in splits] if len(splits) > 1 else splits[0].thinking))
        answers = [s.answer if s.closed else "(no answer: the thinking never ended)" for s in splits]
        row["prediction"] = _clip(_text(answers if len(answers) > 1 else answers[0]))
    if len(answer) > MAX_TEXT:  # clipped answers could look equal: compare them by digest
        row["answer_key"] = hashlib.sha256(answer.encode()).hexdigest()[:16]
    if pred and pred.choice_logprobs:
        probs = choice_probabilities(pred.choice_logprobs)
        names = labels if labels and len(labels) == len(probs) else [f"#{i}" for i in range(1, len(probs) + 1)]
        row["choices"] = [[name, round(p, 6)] for name, p in zip(names, probs)]
    return row


def samples(columns: list[Column], datasets: list[str]) -> dict[str, Any]:
    """The JSON the report's drill-down and comparison read: ``sources`` (one per model and dataset,
    its rows failures first) and ``contexts`` (the shared prompt parts the rows point to)."""
    texts, sources, configs = _Texts(), [], {}  # type: ignore[var-annotated]
    for ds in datasets:
        loaded = [(column, s) for column in columns if (s := _load(column, ds)) is not None]
        keep = _selected_ids([s for _, s in loaded])
        for column, by_id in loaded:
            cfg = run_config(column.run, configs)
            labels, tags = choice_labels(cfg).get(ds), thinking(cfg, column.model)
            chosen = sorted((s for i, s in by_id.items() if i in keep), key=lambda s: s.scored.value)
            sources.append({"model": column.name, "dataset": ds, "total": len(by_id),
                            "rows": [_row(s, labels, texts, tags) for s in chosen]})
    return {"sources": sources, "contexts": texts.items}
