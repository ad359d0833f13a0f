# gpt-4o-mini through OpenAI's API. The key is read from $OPENAI_API_KEY at run time; a config
# names the variable (api_key_env), never the key. Chat models answer generation datasets only
# (GenInferencer): chat endpoints cannot score multiple choice by log-likelihood.
models = [
    dict(abbr="gpt-4o-mini", type="OpenAI", path="gpt-4o-mini", chat=True, api_key_env="OPENAI_API_KEY",
         max_out_len=1024, batch_size=8, api_retries=4, api_timeout_s=120),
]
