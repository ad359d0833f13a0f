# InternLM2-20B (base) from the Hugging Face hub; needs its remote code and ~40 GB of GPU memory in bf16.
models = [
    dict(abbr="internlm2-20b", type="HuggingFaceCausalLM", path="internlm/internlm2-20b",
         model_kwargs=dict(trust_remote_code=True), tokenizer_kwargs=dict(trust_remote_code=True),
         dtype="bfloat16", max_out_len=512, max_seq_len=4096, batch_size=8, run_cfg=dict(num_gpus=2)),
]
