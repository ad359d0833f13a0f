# The bundled reference model (reference_model/, trained on 2 CPU cores; see
# examples/assets/reference-demo/README.md for how it was built).
models = [
    dict(abbr="reference-demo", type="HuggingFaceCausalLM", path="examples/assets/reference-demo",
         dtype="float32", max_out_len=96, max_seq_len=1024, batch_size=16),
]
