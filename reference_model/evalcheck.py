"""Quick sanity scores for an exported checkpoint with plain ``transformers`` (no Compass needed).

* MC: zero-shot synthetic MMLU test items, prompt ending in ``Answer:``, pick the highest
  log-likelihood among " A".." D".
* GSM8K: greedy generation on synthetic test items, exact match of the ``#### N`` number.
"""
from __future__ import annotations

import re
from typing import Any

import torch

MC_HEADER = "The following are multiple choice questions (with answers) about {}.\n\n"


def mc_prompt(subject: str, item) -> str:
    opts = "\n".join(f"{letter}. {choice}" for letter, choice in zip("ABCD", item.choices))
    return MC_HEADER.format(subject.replace("_", " ")) + f"{item.question}\n{opts}\nAnswer:"


@torch.no_grad()
def mc_accuracy(model, tok, subject: str, items) -> float:
    letter_ids = [tok.encode(f" {c}", add_special_tokens=False)[-1] for c in "ABCD"]
    correct = 0
    for item in items:
        ids = tok(mc_prompt(subject, item), return_tensors="pt").input_ids
        logits = model(ids).logits[0, -1]
        # " A" may tokenize as "Ġ" + "A"; then score the letter after the space.
        if len(tok.encode(" A", add_special_tokens=False)) > 1:
            ids = torch.cat([ids, torch.tensor([[tok.encode(" ", add_special_tokens=False)[0]]])], 1)
            logits = model(ids).logits[0, -1]
        pred = "ABCD"[int(torch.stack([logits[i] for i in letter_ids]).argmax())]
        correct += pred == item.answer
    return correct / max(len(items), 1)


def extract_answer(text: str) -> str | None:
    m = re.search(r"####\s*(-?\d+)", text)
    return m.group(1) if m else None


@torch.no_grad()
def gsm8k_accuracy(model, tok, rows, max_new_tokens: int = 80) -> tuple[float, list[str]]:
    correct, samples = 0, []
    for row in rows:
        ids = tok(f"Question: {row['question']}\nAnswer:", return_tensors="pt").input_ids
        out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        text = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).split("\n\n")[0]
        samples.append(text)
        correct += extract_answer(text) == extract_answer(row["answer"])
    return correct / max(len(rows), 1), samples


def score(path: str, n_mc: int = 40, n_gsm: int = 40, seed: int = 0) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from compass import synthetic as syn

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    result: dict[str, Any] = {"mc": {}, "chance_mc": 0.25}
    for subject in syn.MMLU_SUBJECTS:
        try:
            items = syn.mmlu_items(subject, "test", n_mc, seed)
        except ValueError as e:  # small template spaces hold fewer test items than asked
            fewer = re.search(r"only (\d+) distinct", str(e))
            if fewer is None:
                raise
            items = syn.mmlu_items(subject, "test", int(fewer.group(1)), seed)
        result["mc"][subject] = mc_accuracy(model, tok, subject, items)
        result.setdefault("n_mc", {})[subject] = len(items)
    result["mc_mean"] = sum(result["mc"].values()) / len(result["mc"])
    acc, samples = gsm8k_accuracy(model, tok, syn.gsm8k_items("test", n_gsm, seed))
    result["gsm8k_exact_match"] = acc
    result["gsm8k_sample"] = samples[:2]
    result["n_mc_per_subject"], result["n_gsm8k"] = n_mc, n_gsm
    return result
