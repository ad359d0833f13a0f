"""Model backends, picked by the canonical ``type`` of a model config."""
from __future__ import annotations

from compass.config import ModelConfig
from compass.models.base import GenerateRequest, Model, ScoreRequest


def build(cfg: ModelConfig) -> Model:
    if cfg.type == "hf":
        from compass.models.hf import HFCausalLM

        return HFCausalLM(cfg)
    if cfg.type == "openai":
        from compass.models.openai_api import OpenAIModel

        return OpenAIModel(cfg)
    if cfg.type == "vllm":
        from compass.models.vllm_backend import VLLMCausalLM

        return VLLMCausalLM(cfg)
    raise ValueError(f"no backend for model type {cfg.type!r}")  # config validation prevents this


__all__ = ["GenerateRequest", "Model", "ScoreRequest", "build"]
