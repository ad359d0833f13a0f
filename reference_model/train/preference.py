"""``refmodel prefer``: Direct Preference Optimisation against a frozen reference policy.

For a prompt x with a chosen answer y_w and a rejected one y_l (Rafailov et al., 2023):

    reward(y)  = beta * (log pi(y | x) - log pi_ref(y | x))      (summed over y's tokens)
    loss       = -log sigmoid(reward(y_w) - reward(y_l))         (mean over pairs)

Pairs are TRL's conversational preference records (``prompt``: messages, ``chosen`` /
``rejected``: an assistant turn, or a plain string for its content), split into tokens as TRL's
``DPOTrainer`` splits them (``chat.encode_preference``). Logged per step: loss, rewards of both
sides, reward accuracy (share of pairs with reward(y_w) > reward(y_l)) and margin; held out the
same, plus ``val_pref_accuracy``: the share of pairs whose chosen answer the policy itself finds
likelier (log pi(y_w|x) > log pi(y_l|x)), which needs no reference and compares across models.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..configio import ConfigError
from ..model import Transformer
from ..tokenizer import PAD
from . import tune_loop
from .chat import ChatTokenizer, check_messages
from .load import load_model
from .packed import packed_logits, token_logprobs
from .sft_data import IGNORE, read_jsonl, resolve_files
from .tune_config import DPOConfig

logger = logging.getLogger(__name__)


@dataclass
class Pair:
    prompt: list[int]
    chosen: list[int]
    rejected: list[int]


def _turn(value: object, where: str) -> list[dict]:
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    try:
        return check_messages(value, where)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def load_pairs(path: Path, chat: ChatTokenizer, max_len: int) -> list[Pair]:
    pairs, too_long = [], 0
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
        for key in ("prompt", "chosen", "rejected"):
            if key not in row:
                raise ConfigError(f"{where}: no '{key}' (expected prompt, chosen and rejected)")
        prompt = [{"role": "user", "content": row["prompt"]}] if isinstance(row["prompt"], str) \
            else _turn(row["prompt"], where)
        p, c, r = chat.encode_preference(prompt, _turn(row["chosen"], where), _turn(row["rejected"], where))
        if not p or not c or not r:
            raise ConfigError(f"{where}: an empty prompt or completion (nothing to condition on or to score)")
        if len(p) + max(len(c), len(r)) > max_len:
            too_long += 1
            continue
        pairs.append(Pair(p, c, r))
    if too_long:
        logger.warning("%s: %d pair(s) longer than seq_len %d tokens left out", path, too_long, max_len)
    if not pairs:
        raise ConfigError(f"config key 'seq_len': no pair of {path} fits in {max_len} tokens")
    return pairs


def sequence_logps(model: Transformer, pairs: list[Pair], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(log pi(chosen | prompt), log pi(rejected | prompt)) per pair, summed over completion tokens;
    chosen and rejected of all pairs run as one right-padded batch."""
    seqs = [p.prompt + p.chosen for p in pairs] + [p.prompt + p.rejected for p in pairs]
    starts = [len(p.prompt) for p in pairs] * 2
    t = max(len(s) for s in seqs) - 1
    device = next(model.parameters()).device
    tokens = torch.full((len(seqs), t), pad_id, dtype=torch.long)
    targets = torch.full((len(seqs), t), IGNORE, dtype=torch.long)
    for i, (seq, start) in enumerate(zip(seqs, starts)):
        n = len(seq) - 1
        tokens[i, :n] = torch.tensor(seq[:-1])
        targets[i, start - 1:n] = torch.tensor(seq[start:])
    positions = torch.arange(t).expand(len(seqs), t)
    segments = torch.zeros_like(tokens)  # right padding: causal attention never sees it
    logits = packed_logits(model, tokens.to(device), positions.to(device), segments.to(device))
    logps = token_logprobs(logits, targets.to(device)).sum(-1)
    return logps[:len(pairs)], logps[len(pairs):]


def dpo_stats(policy: tuple[torch.Tensor, torch.Tensor], ref: tuple[torch.Tensor, torch.Tensor], beta: float) -> dict:
    chosen = beta * (policy[0] - ref[0])
    rejected = beta * (policy[1] - ref[1])
    margins = chosen - rejected
    return {"losses": -F.logsigmoid(margins), "chosen": chosen, "rejected": rejected, "margins": margins}


class DPOTask:
    name = "dpo"

    def __init__(self, cfg: DPOConfig, train: list[Pair], val: list[Pair] | None, ref: Transformer, pad_id: int):
        self.cfg, self.train, self.val, self.ref, self.pad_id = cfg, train, val, ref, pad_id
        self.samples_per_step = cfg.micro_batch * cfg.grad_accum
        self._order: dict[int, np.ndarray] = {}

    def _pairs(self, start: int, size: int) -> list[Pair]:
        out = []
        for i in range(start, start + size):
            epoch, j = divmod(i, len(self.train))
            if epoch not in self._order:
                self._order = {epoch: np.random.default_rng(self.cfg.seed + epoch).permutation(len(self.train))}
            out.append(self.train[int(self._order[epoch][j])])
        return out

    def _stats(self, model: Transformer, pairs: list[Pair]) -> dict:
        with torch.no_grad():
            ref = sequence_logps(self.ref, pairs, self.pad_id)
        policy = sequence_logps(model, pairs, self.pad_id)
        return {**dpo_stats(policy, ref, self.cfg.beta), "policy": policy}

    def train_step(self, model: Transformer, start: int) -> dict:
        mb, n = self.cfg.micro_batch, self.samples_per_step
        sums = dict.fromkeys(("loss", "rewards_chosen", "rewards_rejected", "reward_accuracy", "reward_margin"), 0.0)
        tokens = 0
        for m in range(self.cfg.grad_accum):
            pairs = self._pairs(start + m * mb, mb)
            s = self._stats(model, pairs)
            (s["losses"].sum() / n).backward()
            for key, value in (("loss", s["losses"]), ("rewards_chosen", s["chosen"]),
                               ("rewards_rejected", s["rejected"]), ("reward_margin", s["margins"]),
                               ("reward_accuracy", (s["margins"] > 0).float())):
                sums[key] += float(value.detach().sum())
            tokens += sum(2 * len(p.prompt) + len(p.chosen) + len(p.rejected) for p in pairs)
        return {**{k: v / n for k, v in sums.items()}, "tokens": tokens}

    @torch.no_grad()
    def evaluate(self, model: Transformer) -> dict:
        if not self.val:
            return {}
        model.eval()
        # A fixed seeded subset when the held-out set is larger than eval_batches allow (its file may be sorted).
        n_eval = min(len(self.val), self.cfg.eval_batches * self.cfg.micro_batch)
        pairs = [self.val[i] for i in sorted(np.random.default_rng(0).permutation(len(self.val))[:n_eval].tolist())]
        acc = margin = pref = loss = 0.0
        for k in range(0, len(pairs), self.cfg.micro_batch):
            s = self._stats(model, pairs[k:k + self.cfg.micro_batch])
            loss += float(s["losses"].sum())
            acc += float((s["margins"] > 0).sum())
            margin += float(s["margins"].sum())
            pref += float((s["policy"][0] > s["policy"][1]).sum())
        model.train()
        n = len(pairs)
        return {"val_loss": loss / n, "val_reward_accuracy": acc / n, "val_reward_margin": margin / n,
                "val_pref_accuracy": pref / n}


def prefer(cfg: DPOConfig) -> dict:
    from .preference_plot import plot_rewards

    device = tune_loop.device_of(cfg)
    torch.manual_seed(cfg.seed)
    loaded = load_model(cfg.init, "init")
    model = loaded.model.to(device)
    ref = load_model(cfg.ref or cfg.init, "ref" if cfg.ref else "init").model.to(device).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    if ref.cfg.vocab_size != model.cfg.vocab_size:
        raise ConfigError(f"config key 'ref': vocabulary {ref.cfg.vocab_size} differs from init's {model.cfg.vocab_size}")
    chat = ChatTokenizer(loaded.tokenizer_dir)
    pad_id = chat.tok.token_to_id(PAD)
    if pad_id is None:
        raise ConfigError(f"config key 'init': tokenizer {loaded.tokenizer_dir} has no {PAD} token")
    train_file, val_file = resolve_files(cfg.data, cfg.val_data)
    train = load_pairs(train_file, chat, cfg.seq_len)
    val = load_pairs(val_file, chat, cfg.seq_len) if val_file else None
    logger.info("dpo: %d pairs (%d held out), beta %g, init %s, reference %s", len(train), len(val or []), cfg.beta,
                loaded.source, cfg.ref or loaded.source)
    return tune_loop.run(DPOTask(cfg, train, val, ref, pad_id), model, cfg, loaded.tokenizer_dir, plot_rewards)
