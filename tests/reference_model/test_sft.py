"""``refmodel sft``: ChatML encoding equal to transformers' chat template, loss on assistant tokens
only, packed rows computing exactly what each conversation computes alone, and a run that logs,
plots, exports and resumes to the same numbers."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from refmodel_helpers import random_checkpoint

from reference_model.instruct.build import build
from reference_model.model import Transformer
from reference_model.train.chat import ChatTokenizer
from reference_model.train.metrics import read_metrics
from reference_model.train.packed import packed_logits
from reference_model.train.sft_data import IGNORE, Example, PackedRows

CONVERSATION = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 3?"},
                {"role": "assistant", "content": "2 + 3 = 5. The answer is 5."},
                {"role": "user", "content": "Spell 'cat' in uppercase."}, {"role": "assistant", "content": "CAT"}]


def test_conversations_encode_as_transformers_renders_them_with_assistant_turns_marked(tiny_corpus):
    from transformers import AutoTokenizer

    tok_dir = tiny_corpus / "tokenizer"
    chat = ChatTokenizer(tok_dir)
    enc = chat.encode_conversation(CONVERSATION)
    hf = AutoTokenizer.from_pretrained(tok_dir)
    rendered = hf.apply_chat_template(CONVERSATION, tokenize=False)
    assert enc.ids == hf(rendered, add_special_tokens=False)["input_ids"]
    marked = [t for t, m in zip(enc.ids, enc.loss_mask) if m]
    assert chat.tok.decode(marked, skip_special_tokens=False) == \
        "2 + 3 = 5. The answer is 5.<|im_end|>\nCAT<|im_end|>\n"
    prompt = chat.encode_chat(CONVERSATION[:2], add_generation_prompt=True)
    assert prompt == hf(hf.apply_chat_template(CONVERSATION[:2], tokenize=False, add_generation_prompt=True),
                        add_special_tokens=False)["input_ids"]


def _examples(chat: ChatTokenizer) -> list[Example]:
    out = []
    for k in range(3):
        messages = [{"role": "user", "content": f"What is {k} + {k}?"},
                    {"role": "assistant", "content": f"{k} + {k} = {2 * k}. The answer is {2 * k}."}]
        enc = chat.encode_conversation(messages)
        out.append(Example(enc.ids[:-1], [t if m else IGNORE for t, m in zip(enc.ids[1:], enc.loss_mask[1:])]))
    return out


@pytest.mark.parametrize("packing", [True, False])
def test_a_packed_row_computes_what_each_conversation_computes_alone(tmp_path, tiny_corpus, packing):
    chat = ChatTokenizer(tiny_corpus / "tokenizer")
    model = Transformer(_model_config(tmp_path, tiny_corpus)).eval()
    examples = _examples(chat)
    rows = PackedRows(examples, seq_len=sum(len(e.inputs) for e in examples) + 5, packing=packing, seed=0,
                      pad_id=1, shuffle=False)
    batch = rows.batch(0, 1 if packing else 3)
    with torch.no_grad():
        logits = packed_logits(model, batch.tokens, batch.positions, batch.segments)
        at = 0
        for k, ex in enumerate(examples):
            row, start = (0, at) if packing else (k, 0)
            alone = model(torch.tensor([ex.inputs]))[0]
            got = logits[row, start:start + len(ex.inputs)]
            assert (got - alone).abs().max().item() < 1e-5
            assert batch.targets[row, start:start + len(ex.inputs)].tolist() == ex.targets
            at += len(ex.inputs)
    # Only assistant tokens are targets: their text is the answers, each closed by <|im_end|>.
    targets = batch.targets[batch.targets != IGNORE].tolist()
    assert chat.tok.decode(targets, skip_special_tokens=False).count("<|im_end|>") == 3
    assert "What is" not in chat.tok.decode(targets)


def _model_config(tmp_path, tiny_corpus):
    from reference_model.model import ModelConfig

    ckpt = random_checkpoint(tmp_path / "cfg-ckpt", tiny_corpus / "tokenizer", seed=1)
    return ModelConfig.from_dict(json.loads((ckpt / "state.json").read_text())["model_config"])


def _sft_args(init, data, out, **kw) -> list[str]:
    base = {"init": init, "data": data, "out": out, "seq_len": 96, "micro_batch": 4, "max_steps": 6,
            "warmup_steps": 1, "lr": 3e-3, "ckpt_every": 3, "keep_ckpts": 5, "eval_every": 3, "eval_batches": 2,
            "progress": "false", "threads": 1}
    base.update(kw)
    return ["sft", *[x for k, v in base.items() for x in (f"--{k}", str(v))]]


def test_sft_run_learns_logs_exports_and_resumes_exactly(tmp_path, tiny_corpus, cli):
    data = tmp_path / "instr"
    build(data, n_sft=120, n_pairs=10, n_eval=8)
    init = random_checkpoint(tmp_path / "init", tiny_corpus / "tokenizer", seed=2, scale=0.02)
    full = cli(*_sft_args(init, data / "sft", tmp_path / "full"))
    assert full.returncode == 0, full.stderr[-2000:]
    rows = read_metrics(tmp_path / "full" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4, 5, 6]  # step 0: the init model's held-out loss
    assert rows[-1]["loss"] < rows[1]["loss"] - 0.5 and rows[-1]["val_loss"] < rows[0]["val_loss"]
    assert "val_loss" in rows[3] and "loss" not in rows[0]
    assert (tmp_path / "full" / "loss.png").stat().st_size > 0
    assert json.loads((tmp_path / "full" / "summary.json").read_text())["steps"] == 6
    exported = cli("export", "--ckpt", str(tmp_path / "full"), "--out", str(tmp_path / "hf"))
    assert exported.returncode == 0, exported.stderr[-2000:]

    # Resume: a copy killed after step 4 (checkpoint 3 kept, metrics through step 4) finishes identically.
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    for name in ("step_00000006",):
        shutil.rmtree(cut / "checkpoints" / name)
    lines = (cut / "metrics.jsonl").read_text().splitlines()
    (cut / "metrics.jsonl").write_text("\n".join(lines[:5]) + "\n")
    resumed = cli(*_sft_args(init, data / "sft", cut))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    again = read_metrics(cut / "metrics.jsonl")
    assert [r["step"] for r in again] == [0, 1, 2, 3, 4, 5, 6]
    assert [(r.get("loss"), r.get("grad_norm"), r.get("val_loss")) for r in again] == \
        [(r.get("loss"), r.get("grad_norm"), r.get("val_loss")) for r in rows]


def test_bad_conversations_stop_with_one_line_naming_file_and_line(tmp_path, tiny_corpus, cli):
    init = random_checkpoint(tmp_path / "init", tiny_corpus / "tokenizer")
    bad = tmp_path / "bad.jsonl"
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    bad.write_text(json.dumps(good) + "\n" + json.dumps({"messages": [{"role": "robot", "content": "x"}]}) + "\n")
    proc = cli(*_sft_args(init, bad, tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"error: {bad}:2: messages[0] must be {{'role': one of system, " \
                                                   f"user, assistant, 'content': a string}}"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "no answer"}]}) + "\n")
    proc = cli(*_sft_args(init, bad, tmp_path / "out"))
    assert proc.returncode == 2 and f"{bad}:1: no assistant turn" in proc.stderr
