"""The vLLM backend's own logic: token alignment of prompt log-probabilities, per-sample seeds,
stop strings, and the clear error without vllm.

vLLM cannot run here (no GPU, and no CUDA build of torch), so this test installs a stand-in
``vllm`` module whose engine answers with the real tiny transformers model, in vLLM's output
shapes (``prompt_logprobs``: None, then {token id: Logprob}; ``outputs[0].text``). What is tested
is the adapter: it must give the transformers backend's scores and greedy texts exactly.
"""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from compass.config import ModelConfig
from compass.errors import CompassError
from compass.models.base import GenerateRequest, ScoreRequest, cut_at_stop
from compass.models.hf import HFCausalLM


@dataclass
class Logprob:
    logprob: float


class StandInLLM:
    """Answers vLLM's ``LLM.generate`` with transformers, one prompt at a time (stand-in, see above)."""
    calls: ClassVar[list] = []

    def __init__(self, model: str, tokenizer: str, **engine):
        StandInLLM.calls.append(engine)
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer)

    @torch.no_grad()
    def generate(self, prompts, params, use_tqdm=True):
        params = params if isinstance(params, list) else [params] * len(prompts)
        return [self._one(p["prompt_token_ids"], sp) for p, sp in zip(prompts, params)]

    def _one(self, ids, sp):
        out = types.SimpleNamespace(prompt_logprobs=None, outputs=[])
        if sp.prompt_logprobs is not None:
            logp = self.model(torch.tensor([ids])).logits[0].log_softmax(-1)
            out.prompt_logprobs = [None] + [{ids[i]: Logprob(float(logp[i - 1, ids[i]]))} for i in range(1, len(ids))]
        assert sp.temperature == 0.0 or sp.seed is not None  # sampled requests always carry their seed
        new = self.model.generate(torch.tensor([ids]), max_new_tokens=sp.max_tokens, do_sample=False,
                                  pad_token_id=self.tokenizer.pad_token_id)[0, len(ids):]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        out.outputs.append(types.SimpleNamespace(text=cut_at_stop(text, tuple(sp.stop or ()))))
        return out


class StandInSamplingParams:
    def __init__(self, max_tokens=16, temperature=1.0, top_p=1.0, seed=None, stop=None, prompt_logprobs=None,
                 detokenize=True):
        self.max_tokens, self.temperature, self.top_p, self.seed = max_tokens, temperature, top_p, seed
        self.stop, self.prompt_logprobs = stop, prompt_logprobs


@pytest.fixture()
def stand_in_vllm(monkeypatch):
    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = StandInLLM, StandInSamplingParams
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = lambda prompt_token_ids: {"prompt_token_ids": prompt_token_ids}
    vllm.inputs = inputs
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.inputs", inputs)


def test_vllm_adapter_matches_the_transformers_backend(stand_in_vllm, tiny_model):
    from compass.models import build

    cfg = dict(abbr="t", path=str(tiny_model), max_seq_len=256, dtype="float32")
    vllm_model = build(ModelConfig(type="vllm", **cfg))
    hf_model = HFCausalLM(ModelConfig(**cfg, device="cpu"))
    assert StandInLLM.calls[-1]["enable_prefix_caching"] and StandInLLM.calls[-1]["max_model_len"] == 256
    requests = [ScoreRequest("Question: 2 + 3 = ? Answer:", (" 5", " 6 or 7", " five")),
                ScoreRequest("The capital of Kamiro is", (" Tesk",))]
    for a, b in zip(vllm_model.score(requests), hf_model.score(requests)):
        assert a == pytest.approx(b, abs=1e-4)
    prompts = [GenerateRequest("Question: 1 + 1\nAnswer:", 12, ("\n\n",)), GenerateRequest("Hello", 8)]
    assert [c.text for c in vllm_model.generate(prompts)] == [c.text for c in hf_model.generate(prompts)]
    sampled = vllm_model.generate([GenerateRequest("Hi", 4, num_samples=3, temperature=0.8, seed=7)])
    assert len(sampled) == 3


def test_vllm_missing_is_one_clear_error(tiny_model, monkeypatch):
    from compass import preflight

    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    with pytest.raises(CompassError, match="needs the vllm package"):
        from compass.models.vllm_backend import VLLMCausalLM
        VLLMCausalLM(ModelConfig(abbr="t", type="vllm", path=str(tiny_model)))
    monkeypatch.setattr(preflight.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CompassError, match=r"models\[0\]\.type: 'VLLM' needs the vllm package"):
        preflight.check_model(ModelConfig(abbr="t", type="vllm", path=str(tiny_model)), "models[0]")
