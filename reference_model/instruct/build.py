"""Write the instruction and preference data sets, each with a held-out split.

    python -m reference_model.instruct.build --out DIR [--sft 3000] [--pairs 1500] [--eval 60]

Layout under DIR:

* ``sft/train.jsonl``, ``sft/heldout.jsonl``: OpenAI ``{"messages": [...]}`` conversations (some
  with a system turn, some with two exchanges), what ``refmodel sft`` trains on;
* ``pref/train.jsonl``, ``pref/heldout.jsonl``: TRL's conversational preference format
  ``{"prompt": [user turn], "chosen": [assistant turn], "rejected": [assistant turn]}``;
* ``eval/instr_<kind>.jsonl``: held-out questions for ``compass`` (custom datasets; fields ``id``,
  ``question``, ``answer``), one file per task kind;
* ``eval/pref_heldout.jsonl``: held-out pairs as two-way multiple choice for ``compass``'s
  log-likelihood inferencer (``prompt`` is the ChatML prompt, options ``A``/``B`` the two answers
  with ``<|im_end|>``, ``answer`` the chosen one's letter);
* ``manifest.json``: counts, seed and held-out fraction.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..tokenizer import CHATML_TEMPLATE, IM_END
from .tasks import KINDS, Item, draw

MIX = {"arith": 0.6, "format": 0.25, "refusal": 0.15}
SYSTEM = "You are a helpful assistant."


def _write(path: Path, rows: list[dict]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def _items(n: int, heldout: bool, fraction: float, seed: int) -> list[Item]:
    items = [it for kind in KINDS for it in draw(kind, round(n * MIX[kind]), heldout, fraction, seed)]
    random.Random(seed).shuffle(items)
    return items


def conversations(items: list[Item], seed: int) -> list[dict]:
    """One exchange per item; every 8th conversation gets a system turn, every 10th takes the next
    item as a second exchange (so some conversations hold two assistant turns)."""
    rows, i = [], 0
    while i < len(items):
        messages = [{"role": "system", "content": SYSTEM}] if i % 8 == 3 else []
        take = 2 if i % 10 == 5 and i + 1 < len(items) else 1
        for item in items[i:i + take]:
            messages += [{"role": "user", "content": item.question}, {"role": "assistant", "content": item.answer}]
        rows.append({"messages": messages})
        i += take
    return rows


def pairs(items: list[Item]) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": it.question}], "chosen": [{"role": "assistant", "content": it.answer}],
             "rejected": [{"role": "assistant", "content": it.wrong}], "kind": it.kind} for it in items]


def chat_prompt(question: str) -> str:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(CHATML_TEMPLATE).render(messages=[{"role": "user", "content": question}],
                                                   add_generation_prompt=True)


def pref_choices(items: list[Item], seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for k, it in enumerate(items):
        chosen_first = rng.random() < 0.5
        a, b = (it.answer, it.wrong) if chosen_first else (it.wrong, it.answer)
        rows.append({"id": f"{it.kind}-{k}", "kind": it.kind, "prompt": chat_prompt(it.question),
                     "A": a + IM_END, "B": b + IM_END, "answer": "A" if chosen_first else "B"})
    return rows


def build(out: str | Path, n_sft: int = 3000, n_pairs: int = 1500, n_eval: int = 60, heldout_fraction: float = 0.15,
          seed: int = 0) -> dict:
    root = Path(out)
    train = _items(n_sft, False, heldout_fraction, seed)
    held = [it for kind in KINDS for it in draw(kind, n_eval, True, heldout_fraction, seed)]
    counts = {"sft/train.jsonl": _write(root / "sft" / "train.jsonl", conversations(train, seed)),
              "sft/heldout.jsonl": _write(root / "sft" / "heldout.jsonl", conversations(held, seed))}
    pair_items = _items(n_pairs, False, heldout_fraction, seed + 1)
    counts["pref/train.jsonl"] = _write(root / "pref" / "train.jsonl", pairs(pair_items))
    counts["pref/heldout.jsonl"] = _write(root / "pref" / "heldout.jsonl", pairs(held))
    for kind in KINDS:
        rows = [{"id": f"{kind}-{k}", "question": it.question, "answer": it.gold}
                for k, it in enumerate(x for x in held if x.kind == kind)]
        counts[f"eval/instr_{kind}.jsonl"] = _write(root / "eval" / f"instr_{kind}.jsonl", rows)
    counts["eval/pref_heldout.jsonl"] = _write(root / "eval" / "pref_heldout.jsonl", pref_choices(held, seed))
    manifest = {"seed": seed, "heldout_fraction": heldout_fraction, "mix": MIX, "files": counts}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--sft", type=int, default=3000, help="training items for SFT")
    p.add_argument("--pairs", type=int, default=1500, help="training preference pairs")
    p.add_argument("--eval", type=int, default=60, help="held-out items per task kind (fewer if the space runs out)")
    p.add_argument("--heldout-fraction", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    print(json.dumps(build(a.out, a.sft, a.pairs, a.eval, a.heldout_fraction, a.seed)["files"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
