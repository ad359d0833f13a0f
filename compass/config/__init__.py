"""Evaluation configs: the schema (frozen dataclasses) and the loader of config files."""
from compass.config.loading import load_config, read_python_config
from compass.config.schema import (
    ComponentCfg,
    Config,
    DatasetConfig,
    EvalCfg,
    EvaluatorCfg,
    InferCfg,
    InferencerCfg,
    ModelConfig,
    NeedleCfg,
    PartitionerCfg,
    ReaderCfg,
    RetrieverCfg,
    RunCfg,
    RunnerCfg,
    StageCfg,
    SummarizerCfg,
    SummaryGroup,
    TemplateCfg,
    Thinking,
    canonical,
    parse_range,
    stable_hash,
    without,
)

__all__ = ["ComponentCfg", "Config", "DatasetConfig", "EvalCfg", "EvaluatorCfg", "InferCfg", "InferencerCfg",
           "ModelConfig", "NeedleCfg", "PartitionerCfg", "ReaderCfg", "RetrieverCfg", "RunCfg", "RunnerCfg", "StageCfg",
           "SummarizerCfg", "SummaryGroup", "TemplateCfg", "Thinking", "canonical", "load_config", "parse_range",
           "read_python_config", "stable_hash", "without"]
