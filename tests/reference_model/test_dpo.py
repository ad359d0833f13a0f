"""``refmodel prefer`` (DPO): the first step's loss and reward margins equal TRL's ``DPOTrainer`` on
the same models, pairs and beta; sequence log-probs are per-pair sums that batching and padding do
not change; a run logs, plots and raises held-out reward accuracy."""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import textwrap

import pytest
import torch
from refmodel_helpers import REPO, random_checkpoint

from reference_model.configio import build
from reference_model.export import export
from reference_model.train.chat import ChatTokenizer
from reference_model.train.load import load_model
from reference_model.train.metrics import read_metrics
from reference_model.train.preference import load_pairs, prefer, sequence_logps
from reference_model.train.tune_config import DPOConfig

PAIRS = [{"prompt": [{"role": "user", "content": f"What is {a} + {b}?"}],
          "chosen": [{"role": "assistant", "content": f"{a} + {b} = {a + b}. The answer is {a + b}."}],
          "rejected": [{"role": "assistant", "content": f"{a} + {b} = {a + b + d}. The answer is {a + b + d}."}]}
         for a, b, d in [(3, 4, 1), (12, 30, -2), (7, 7, 10), (45, 5, 1)]]


def _dpo(init, ref, data, out, **kw) -> DPOConfig:
    return build(DPOConfig, {"init": str(init), "ref": str(ref), "data": str(data), "out": str(out), "beta": 0.1,
                             "max_steps": 1, "warmup_steps": 0, "micro_batch": 4, "seq_len": 128, "lr": 1e-6,
                             "progress": False, "plot": False, "resume": False, **kw})


@pytest.fixture()
def two_models(tmp_path, tiny_corpus):
    """A policy and a different reference, so the first step's rewards are not all zero."""
    tok = tiny_corpus / "tokenizer"
    return (random_checkpoint(tmp_path / "policy", tok, seed=11, scale=0.05),
            random_checkpoint(tmp_path / "ref", tok, seed=12, scale=0.05))


def test_sequence_logps_are_per_pair_sums_that_batching_does_not_change(tmp_path, two_models, tiny_corpus):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    chat = ChatTokenizer(tiny_corpus / "tokenizer")
    pairs = load_pairs(data, chat, 128)
    assert chat.tok.decode(pairs[0].chosen, skip_special_tokens=False) == "3 + 4 = 7. The answer is 7.<|im_end|>\n"
    model = load_model(two_models[0]).model
    with torch.no_grad():
        chosen, rejected = sequence_logps(model, pairs, pad_id=1)
        for k, pair in enumerate(pairs):
            for got, completion in ((chosen[k], pair.chosen), (rejected[k], pair.rejected)):
                ids = torch.tensor([pair.prompt + completion])
                logp = model(ids[:, :-1])[0].log_softmax(-1)
                want = sum(logp[len(pair.prompt) - 1 + i, t].item() for i, t in enumerate(completion))
                assert got.item() == pytest.approx(want, abs=1e-4)
    # The policy as its own reference: every reward is 0 and the first loss is log 2.
    prefer(_dpo(two_models[0], two_models[0], data, tmp_path / "self"))
    (first,) = read_metrics(tmp_path / "self" / "metrics.jsonl")
    assert first["loss"] == pytest.approx(math.log(2), abs=1e-6) and first["reward_margin"] == 0.0


TRL_SCRIPT = textwrap.dedent("""
    import json, sys, torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer
    policy, ref, data, out = sys.argv[1:5]
    rows = [json.loads(line) for line in open(data)]
    args = DPOConfig(output_dir=out, per_device_train_batch_size=len(rows), max_steps=1, logging_steps=1,
                     learning_rate=1e-6, beta=0.1, report_to=[], use_cpu=True, bf16=False, save_strategy="no",
                     dataloader_num_workers=0, seed=0)
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(policy, dtype=torch.float32),
                         ref_model=AutoModelForCausalLM.from_pretrained(ref, dtype=torch.float32), args=args,
                         train_dataset=Dataset.from_list(rows), processing_class=AutoTokenizer.from_pretrained(policy))
    trainer.train()
    print("TRL" + json.dumps(trainer.state.log_history[0]))
""")


@pytest.mark.skipif(importlib.util.find_spec("trl") is None,
                    reason="trl is not installed (pip install trl: only this test needs it, as the independent DPO)")
def test_first_step_equals_trl_dpo_trainer(tmp_path, two_models):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    policy_hf, ref_hf = export(two_models[0], tmp_path / "policy-hf"), export(two_models[1], tmp_path / "ref-hf")
    proc = subprocess.run([sys.executable, "-c", TRL_SCRIPT, str(policy_hf), str(ref_hf), str(data), str(tmp_path / "trl")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1",
                               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    trl = json.loads(proc.stdout.split("TRL", 1)[1].splitlines()[0])
    prefer(_dpo(policy_hf, ref_hf, data, tmp_path / "ours"))
    (ours,) = read_metrics(tmp_path / "ours" / "metrics.jsonl")
    assert abs(trl["rewards/margins"]) > 1e-3  # a comparison of two zeros would prove nothing
    assert ours["loss"] == pytest.approx(trl["loss"], abs=1e-4)
    assert ours["reward_margin"] == pytest.approx(trl["rewards/margins"], abs=1e-4)
    assert ours["rewards_chosen"] == pytest.approx(trl["rewards/chosen"], abs=1e-4)
    assert ours["rewards_rejected"] == pytest.approx(trl["rewards/rejected"], abs=1e-4)
    assert ours["reward_accuracy"] == pytest.approx(trl["rewards/accuracies"], abs=1e-6)


def _easy_pairs(path, n: int, offset: int) -> None:
    """A preference a random tiny model can pick up in a few steps: one fixed answer over another."""
    rows = [{"prompt": f"Question {offset + k}: is {k} a number?", "chosen": "Yes, it is.", "rejected": "No idea, sorry."}
            for k in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_prefer_run_logs_plots_and_learns_the_preference(tmp_path, tiny_corpus, cli):
    (tmp_path / "pref").mkdir()
    _easy_pairs(tmp_path / "pref" / "train.jsonl", 48, 0)
    _easy_pairs(tmp_path / "pref" / "heldout.jsonl", 16, 1000)
    init = random_checkpoint(tmp_path / "init", tiny_corpus / "tokenizer", seed=4, scale=0.05)
    args = {"init": init, "data": tmp_path / "pref", "out": tmp_path / "dpo", "max_steps": 8, "warmup_steps": 1,
            "micro_batch": 8, "lr": 3e-3, "beta": 0.5, "eval_every": 8, "eval_batches": 2, "seq_len": 64,
            "progress": "false", "threads": 1}
    proc = cli("prefer", *[x for k, v in args.items() for x in (f"--{k}", str(v))])
    assert proc.returncode == 0, proc.stderr[-2000:]
    start, *rows = read_metrics(tmp_path / "dpo" / "metrics.jsonl")
    assert start["step"] == 0 and start["val_reward_accuracy"] == 0.0 and start["val_reward_margin"] == 0.0
    assert len(rows) == 8 and rows[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)  # reference = init
    assert {"rewards_chosen", "rewards_rejected", "reward_accuracy", "reward_margin"} <= set(rows[0])
    assert rows[-1]["loss"] < 0.3 and rows[-1]["reward_accuracy"] == 1.0
    assert rows[-1]["val_reward_accuracy"] == 1.0 and rows[-1]["val_pref_accuracy"] == 1.0
    assert rows[-1]["val_reward_margin"] > 1.0
    assert (tmp_path / "dpo" / "dpo.png").stat().st_size > 0 and (tmp_path / "dpo" / "loss.png").exists()
