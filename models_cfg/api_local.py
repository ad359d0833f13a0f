# A model behind a local OpenAI-compatible server (vLLM, llama.cpp, `refmodel serve`, ...): `path`
# is the name the server serves it under. chat=False uses /v1/completions, which also scores
# multiple choice by log-likelihood where the server returns prompt logprobs (echo=True).
# A local server usually needs no key: an unset $LOCAL_API_KEY sends a placeholder.
models = [
    dict(abbr="local-api", type="OpenAI", path="reference-demo", api_base="http://127.0.0.1:8000/v1",
         api_key_env="LOCAL_API_KEY", chat=False, max_out_len=256, batch_size=16),
]
