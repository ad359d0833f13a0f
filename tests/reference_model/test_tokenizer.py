"""Tokenizer contract: digits split, no unknown token, ChatML specials, padded vocab, HF loadable."""
from __future__ import annotations

import json

from reference_model.tokenizer import EOT, IM_END, IM_START, PAD, load


def test_tokenizer_contract(tiny_corpus):
    from transformers import AutoTokenizer

    path = tiny_corpus / "tokenizer"
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    assert len(tok) % 64 == 0
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == (EOT, EOT, PAD)
    for special in (IM_START, IM_END, "<|reserved_0|>"):
        assert len(tok.encode(special, add_special_tokens=False)) == 1
    pieces = tok.convert_ids_to_tokens(tok.encode("x 2024 y", add_special_tokens=False))
    assert [p for p in pieces if any(c.isdigit() for c in p)] == ["2", "0", "2", "4"]
    text = "Ünïcødé 漢字 🙂 \x00\x7f tab\tend"  # bytes never seen in training still round-trip
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.decode(ids) == text and tok.unk_token_id is None
    assert tok.encode("hi")[0] == tok.bos_token_id  # documents are packed as <|endoftext|> text
    chat = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert chat == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    cfg = json.loads((path / "tokenizer_config.json").read_text())
    assert cfg["tokenizer_class"] == "PreTrainedTokenizerFast" and cfg["model_input_names"] == ["input_ids", "attention_mask"]
    assert load(path).get_vocab_size() == len(tok)
