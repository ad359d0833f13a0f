"""Tiny local models and data for tests, benchmarks and demos (no hub access needed).

``build_tiny_llama`` trains a small byte-level BPE tokenizer on synthetic benchmark text and
saves a randomly initialised (fixed seed) Llama-architecture model next to it, in Hugging Face
format, so everything loads through the real ``transformers`` path.
"""
from __future__ import annotations

from pathlib import Path

from compass import synthetic


def _corpus() -> list[str]:
    texts = list(synthetic.facts_corpus())
    for subject in synthetic.MMLU_SUBJECTS:
        for item in synthetic.mmlu_items(subject, "train", 40):
            texts.append(item.question + " " + " ".join(item.choices) + " Answer: " + item.answer)
    texts += [row["question"] + "\n" + row["answer"] for row in synthetic.gsm8k_items("train", 200)]
    return texts


def build_tiny_llama(path: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2,
                     vocab_size: int = 512) -> Path:
    """Save a tiny random Llama model and its tokenizer under ``path`` (idempotent)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = Path(path)
    if (path / "config.json").is_file() and (path / "tokenizer.json").is_file():
        return path
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_corpus(), trainer)
    # Prepend BOS like Llama tokenizers do, so scoring sees the same start token as training would.
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", tok.token_to_id("<s>"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   model_input_names=["input_ids", "attention_mask"])
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, bos_token_id=fast.bos_token_id,
                         eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path
