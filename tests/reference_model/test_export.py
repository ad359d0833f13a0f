"""Export to HF LlamaForCausalLM: logits match the training model to 1e-4, generations agree."""
from __future__ import annotations

import json

import pytest
import torch

from reference_model.export import export, split_wqkv
from reference_model.model import Transformer, named_config


def _random_checkpoint(path, tokenizer_dir, vocab: int, **overrides):
    """A checkpoint dir with every weight random (norm gains too) so no mapping mistake can hide."""
    torch.manual_seed(0)
    cfg = named_config("tiny", vocab_size=vocab, **overrides)
    model = Transformer(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * (0.3 if p.dim() == 1 else 0.1) + (1.0 if p.dim() == 1 else 0.0))
    path.mkdir(parents=True)
    torch.save(model.state_dict(), path / "model.pt")
    state = {"step": 1, "model_config": cfg.to_dict(), "train_config": {"data": ""}, "tokenizer": str(tokenizer_dir)}
    (path / "state.json").write_text(json.dumps(state))
    return model.eval()


@pytest.mark.parametrize("overrides", [{}, {"tie_embeddings": False, "n_kv_heads": 1},
                                       {"n_kv_heads": 4}])
def test_hf_logits_and_greedy_generation_match(tmp_path, tiny_corpus, overrides):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    vocab = json.loads((tiny_corpus / "manifest.json").read_text())["tokenizer"]["vocab_size"]
    ours = _random_checkpoint(tmp_path / "ckpt", tiny_corpus / "tokenizer", vocab, **overrides)
    out = export(tmp_path / "ckpt", tmp_path / "hf")
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json"} <= {p.name for p in out.iterdir()}
    hf = AutoModelForCausalLM.from_pretrained(out, local_files_only=True, dtype=torch.float32).eval()
    assert type(hf).__name__ == "LlamaForCausalLM"
    x = torch.randint(0, vocab, (3, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref, got = ours(x), hf(x).logits
    assert (ref - got).abs().max().item() < 1e-4

    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    prompt = tok("Ana has 12 apples and", return_tensors="pt").input_ids
    eos = tuple(json.loads((out / "generation_config.json").read_text())["eos_token_id"])
    mine = ours.generate(prompt, max_new_tokens=16, eos_ids=eos)
    theirs = hf.generate(prompt, max_new_tokens=16, do_sample=False, pad_token_id=tok.pad_token_id)
    assert mine.tolist() == theirs.tolist()


def test_split_wqkv_follows_interleaved_group_layout():
    cfg = named_config("tiny", vocab_size=64)  # 4 q heads, 2 kv heads -> per group: q q k v
    hd, h = cfg.head_dim, cfg.hidden_size
    rows = torch.arange((cfg.n_heads + 2 * cfg.n_kv_heads) * hd).float()
    w = rows[:, None].expand(-1, h).clone()
    q, k, v = split_wqkv(w, cfg)
    block = lambda i: list(range(i * hd, (i + 1) * hd))  # noqa: E731
    assert q[:, 0].tolist() == block(0) + block(1) + block(4) + block(5)
    assert k[:, 0].tolist() == block(2) + block(6)
    assert v[:, 0].tolist() == block(3) + block(7)


def test_exported_config_is_plain_llama(tmp_path, tiny_corpus):
    vocab = json.loads((tiny_corpus / "manifest.json").read_text())["tokenizer"]["vocab_size"]
    _random_checkpoint(tmp_path / "ckpt", tiny_corpus / "tokenizer", vocab)
    out = export(tmp_path / "ckpt", tmp_path / "hf", dtype="bfloat16")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForCausalLM"] and "auto_map" not in cfg
    tok_cfg = json.loads((out / "tokenizer_config.json").read_text())
    assert tok_cfg["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert tok_cfg["model_input_names"] == ["input_ids", "attention_mask"]
    gen = json.loads((out / "generation_config.json").read_text())
    assert cfg["eos_token_id"] in gen["eos_token_id"]


def test_export_refuses_a_tokenizer_without_its_special_tokens(tmp_path):
    """A tokenizer lacking <|im_end|> once exported ``null`` stop ids, so generation never stopped."""
    from tokenizers import Tokenizer, models

    vocab = {"<|endoftext|>": 0, "<|pad|>": 1, **{f"w{i}": i + 2 for i in range(62)}}
    (tmp_path / "tok").mkdir()
    Tokenizer(models.WordLevel(vocab, unk_token="w0")).save(str(tmp_path / "tok" / "tokenizer.json"))
    _random_checkpoint(tmp_path / "ckpt", tmp_path / "tok", len(vocab))
    with pytest.raises(ValueError, match=r"no '<\|im_end\|>' token"):
        export(tmp_path / "ckpt", tmp_path / "hf", tmp_path / "tok")
    assert not (tmp_path / "hf" / "config.json").exists()
