"""Model backends by the names configs use: ``MODELS`` maps a canonical ``type`` to the function
that builds the backend (importing torch, vllm or openai only then); ``MODEL_ALIASES`` accepts
OpenCompass's class names."""
from __future__ import annotations

from collections.abc import Callable

from compass.config import ModelConfig
from compass.models.base import GenerateRequest, Model, ScoreRequest


def _hf(cfg: ModelConfig) -> Model:
    from compass.models.hf import HFCausalLM

    return HFCausalLM(cfg)


def _openai(cfg: ModelConfig) -> Model:
    from compass.models.openai_api import OpenAIModel

    return OpenAIModel(cfg)


def _vllm(cfg: ModelConfig) -> Model:
    from compass.models.vllm_backend import VLLMCausalLM

    return VLLMCausalLM(cfg)


MODELS: dict[str, Callable[[ModelConfig], Model]] = {"hf": _hf, "openai": _openai, "vllm": _vllm}
MODEL_ALIASES = {"HuggingFaceCausalLM": "hf", "HuggingFace": "hf", "OpenAI": "openai", "OpenAISDK": "openai",
                 "VLLM": "vllm", "VLLMCausalLM": "vllm"}


def build(cfg: ModelConfig) -> Model:
    return MODELS[cfg.type](cfg)  # config validation made cfg.type a key of MODELS


__all__ = ["MODELS", "MODEL_ALIASES", "GenerateRequest", "Model", "ScoreRequest", "build"]
