"""Load and validate evaluation configs (OpenCompass-shaped Python files, ``read_base()`` imports).

Every key a user may write is a dataclass field below; ``docs/config.md`` documents each one.
Component ``type`` values are names (strings); a class object is accepted and read by its
``__name__`` so OpenCompass-style imports keep working. Each name maps to code through the
explicit tables in the modules that own them (no registry).
"""
from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from compass.errors import CompassError
from compass.schema import from_dict

MODEL_TYPES = {"HuggingFaceCausalLM": "hf", "HuggingFace": "hf", "hf": "hf"}
DATASET_TYPES = {"MMLUDataset": "mmlu", "mmlu": "mmlu", "GSM8KDataset": "gsm8k", "gsm8k": "gsm8k",
                 "CustomDataset": "custom", "custom": "custom",
                 "HumanevalDataset": "humaneval", "HumanEvalDataset": "humaneval", "humaneval": "humaneval"}
INFERENCER_TYPES = {"PPLInferencer": "loglikelihood", "LoglikelihoodInferencer": "loglikelihood",
                    "loglikelihood": "loglikelihood", "GenInferencer": "generate", "generate": "generate"}
RETRIEVER_TYPES = {"ZeroRetriever": "zero", "zero": "zero", "FixKRetriever": "fixed", "fixed": "fixed",
                   "RandomRetriever": "random", "random": "random",
                   "BM25Retriever": "lexical_topk", "TopkRetriever": "lexical_topk", "lexical_topk": "lexical_topk"}
EVALUATOR_TYPES = {"AccEvaluator": "accuracy", "accuracy": "accuracy",
                   "Gsm8kEvaluator": "numeric_match", "NumericMatchEvaluator": "numeric_match",
                   "numeric_match": "numeric_match",
                   "HumanEvalEvaluator": "code_exec", "HumanEvaluator": "code_exec", "code_exec": "code_exec"}
POSTPROCESSOR_TYPES = {"first_capital": "first_capital", "first_option": "first_capital",
                       "last_number": "last_number", "gsm8k": "last_number", "none": "none",
                       "humaneval": "humaneval", "humaneval_postprocess": "humaneval",
                       "humaneval_postprocess_v2": "humaneval"}
PARTITIONER_TYPES = {"NaivePartitioner": "naive", "naive": "naive"}
RUNNER_TYPES = {"LocalRunner": "local", "local": "local"}


def canonical(value: Any, table: dict[str, str], where: str) -> str:
    """The canonical name of a component ``type`` (string or class), or a one-line error."""
    name = value if isinstance(value, str) else getattr(value, "__name__", None)
    if name in table:
        return table[name]
    close = difflib.get_close_matches(str(name), list(table), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(set(table)))}"
    raise CompassError(f"{where}: unknown type {name!r} ({hint})")


@dataclass
class RunCfg:
    num_gpus: int = 0
    num_procs: int = 1


@dataclass
class ModelConfig:
    abbr: str
    path: str
    type: Any = "HuggingFaceCausalLM"
    tokenizer_path: str | None = None
    max_out_len: int = 256
    max_seq_len: int = 2048
    batch_size: int = 8
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    chat: bool = False
    stop: list[str] = field(default_factory=list)
    model_kwargs: dict = field(default_factory=dict)
    tokenizer_kwargs: dict = field(default_factory=dict)
    generation_kwargs: dict = field(default_factory=dict)
    run_cfg: RunCfg = field(default_factory=RunCfg)

    def validate(self, where: str) -> None:
        self.type = canonical(self.type, MODEL_TYPES, f"{where}.type")
        for key in ("max_out_len", "max_seq_len", "batch_size"):
            if getattr(self, key) < 1:
                raise CompassError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")


@dataclass
class ReaderCfg:
    input_columns: list[str] | None = None
    output_column: str | None = None
    train_split: str = "dev"
    test_split: str = "test"
    test_range: str | None = None  # a slice such as "[0:100]", applied after loading
    id_column: str | None = None  # custom datasets: the column holding sample ids (default: row number)
    group_column: str | None = None  # custom datasets: a column grouping samples (subject, category)

    def validate(self, where: str) -> None:
        if self.test_range is not None:
            parse_range(self.test_range, f"{where}.test_range")


def parse_range(text: str, where: str) -> slice:
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")) or body.count(":") != 1:
        raise CompassError(f"{where}: expected a slice like '[0:100]', got {text!r}")
    try:
        start, stop = (int(p) if p.strip() else None for p in body[1:-1].split(":"))
    except ValueError:
        raise CompassError(f"{where}: expected a slice like '[0:100]', got {text!r}") from None
    return slice(start, stop)


@dataclass
class TemplateCfg:
    template: str
    begin: str = ""
    type: Any = None  # accepted for OpenCompass compatibility (PromptTemplate); ignored


@dataclass
class RetrieverCfg:
    type: Any = "zero"  # ZeroRetriever
    k: int = 0
    fix_id_list: list[int] | None = None
    seed: int = 0

    def validate(self, where: str) -> None:
        self.type = canonical(self.type, RETRIEVER_TYPES, f"{where}.type")
        if self.type == "fixed" and self.fix_id_list is None and self.k < 1:
            raise CompassError(f"{where}: FixKRetriever needs fix_id_list or k >= 1")
        if self.fix_id_list is not None and self.k == 0:
            self.k = len(self.fix_id_list)


@dataclass
class InferencerCfg:
    type: Any
    max_out_len: int | None = None  # overrides the model's max_out_len for this dataset
    stop: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=lambda: ["A", "B", "C", "D"])
    continuation: str = " {label}"  # what is scored after the prompt; {label} or {text}
    num_samples: int = 1  # completions per sample (GenInferencer), e.g. 20 for pass@10
    temperature: float = 0.0  # 0: greedy; > 0: seeded sampling
    top_p: float = 1.0

    def validate(self, where: str) -> None:
        self.type = canonical(self.type, INFERENCER_TYPES, f"{where}.type")
        if self.num_samples < 1:
            raise CompassError(f"{where}.num_samples: must be >= 1, got {self.num_samples}")
        if self.temperature < 0:
            raise CompassError(f"{where}.temperature: must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise CompassError(f"{where}.top_p: must be in (0, 1], got {self.top_p}")
        sampling = self.num_samples > 1 or self.temperature > 0
        if sampling and self.type != "generate":
            raise CompassError(f"{where}: num_samples and temperature apply to GenInferencer only")
        if self.num_samples > 1 and self.temperature == 0:  # greedy samples would all be identical
            raise CompassError(f"{where}.num_samples: {self.num_samples} samples need temperature > 0")


@dataclass
class InferCfg:
    prompt_template: TemplateCfg
    inferencer: InferencerCfg
    ice_template: TemplateCfg | None = None
    retriever: RetrieverCfg = field(default_factory=RetrieverCfg)

    def validate(self, where: str) -> None:
        if self.retriever.type != "zero" and self.ice_template is None:
            raise CompassError(f"{where}.ice_template: a few-shot retriever needs an ice_template")


@dataclass
class ComponentCfg:
    type: Any


@dataclass
class EvaluatorCfg:
    type: Any
    k: list[int] | None = None  # pass@k values, for evaluators that sample several answers
    timeout_s: float | None = None  # per-program limit, for evaluators that run code


@dataclass
class EvalCfg:
    evaluator: EvaluatorCfg
    pred_postprocessor: ComponentCfg | None = None

    def validate(self, where: str) -> None:
        self.evaluator.type = canonical(self.evaluator.type, EVALUATOR_TYPES, f"{where}.evaluator.type")
        if self.pred_postprocessor is not None:
            self.pred_postprocessor.type = canonical(self.pred_postprocessor.type, POSTPROCESSOR_TYPES,
                                                     f"{where}.pred_postprocessor.type")


@dataclass
class DatasetConfig:
    abbr: str
    type: Any
    path: str
    infer_cfg: InferCfg
    eval_cfg: EvalCfg
    name: str | list[str] | None = None  # subset(s), e.g. MMLU subjects; None means all
    reader_cfg: ReaderCfg = field(default_factory=ReaderCfg)

    def validate(self, where: str) -> None:
        self.type = canonical(self.type, DATASET_TYPES, f"{where}.type")


@dataclass
class SummaryGroup:
    name: str
    subsets: list[str]
    weights: list[float] | None = None


@dataclass
class SummarizerCfg:
    dataset_abbrs: list[str] | None = None
    summary_groups: list[SummaryGroup] = field(default_factory=list)
    type: Any = None  # accepted for OpenCompass compatibility; ignored


@dataclass
class StageCfg:
    partitioner: dict = field(default_factory=lambda: {"type": "NaivePartitioner"})
    runner: dict = field(default_factory=lambda: {"type": "LocalRunner"})


@dataclass
class RunnerCfg:
    type: Any = "LocalRunner"
    max_num_workers: int = 1
    retry: int = 1

    def validate(self, where: str) -> None:
        self.type = canonical(self.type, RUNNER_TYPES, f"{where}.type")


@dataclass
class Config:
    """A validated eval config: what ``compass run`` executes."""

    file: str
    models: list[ModelConfig]
    datasets: list[DatasetConfig]
    summarizer: SummarizerCfg = field(default_factory=SummarizerCfg)
    work_dir: str | None = None
    runner: RunnerCfg = field(default_factory=RunnerCfg)

    @property
    def name(self) -> str:
        return Path(self.file).stem


TOP_LEVEL = {"models", "datasets", "summarizer", "work_dir", "infer", "eval"}


def load_config(path: str | Path) -> Config:
    """Read a config file; any problem is a one-line :class:`CompassError` naming file and key."""
    path = Path(path)
    if not path.is_file():
        raise CompassError(f"{path}: config file not found")
    raw = _read_python_config(path)
    for key in raw:
        close = difflib.get_close_matches(key, TOP_LEVEL, n=1, cutoff=0.8)
        if key not in TOP_LEVEL and close:
            raise CompassError(f"{path}: {key}: unknown top-level key (did you mean {close[0]!r}?)")
    for key in ("models", "datasets"):
        if key not in raw:
            raise CompassError(f"{path}: {key}: required top-level key is missing")
        if not isinstance(raw[key], (list, tuple)) or not raw[key]:
            raise CompassError(f"{path}: {key}: expected a non-empty list of dicts")
    models = [from_dict(ModelConfig, m, f"{path}: models[{i}]") for i, m in enumerate(raw["models"])]
    datasets = [from_dict(DatasetConfig, d, f"{path}: datasets[{i}]") for i, d in enumerate(raw["datasets"])]
    for kind, items in (("models", models), ("datasets", datasets)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.abbr in seen:
                raise CompassError(f"{path}: {kind}[{i}].abbr: duplicate abbr {item.abbr!r}")
            seen.add(item.abbr)
    summarizer = from_dict(SummarizerCfg, raw.get("summarizer") or {}, f"{path}: summarizer")
    infer = from_dict(StageCfg, raw.get("infer") or {}, f"{path}: infer")
    canonical(infer.partitioner.get("type", "naive"), PARTITIONER_TYPES, f"{path}: infer.partitioner.type")
    runner = from_dict(RunnerCfg, infer.runner, f"{path}: infer.runner")
    work_dir = raw.get("work_dir")
    if work_dir is not None and not isinstance(work_dir, str):
        raise CompassError(f"{path}: work_dir: expected str, got {type(work_dir).__name__}")
    return Config(str(path), models, datasets, summarizer, work_dir, runner)


def _read_python_config(path: Path) -> dict[str, Any]:
    from mmengine.config import Config as MMConfig  # imported here: it is slow and only needed now

    try:
        cfg = MMConfig.fromfile(str(path))
    except SyntaxError as exc:
        where = exc.filename if exc.filename and not exc.filename.startswith("<") else path
        raise CompassError(f"{where}:{exc.lineno}: syntax error: {exc.msg}") from None
    except (ImportError, ModuleNotFoundError) as exc:
        raise CompassError(f"{path}: import failed: {exc}") from None
    except Exception as exc:  # mmengine wraps user errors in many types
        raise CompassError(f"{path}: cannot load config: {type(exc).__name__}: {exc}") from None
    return _plain(cfg._cfg_dict.to_dict())


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def stable_hash(*parts: Any) -> str:
    """A short hash of JSON-able values, stable across processes and machines."""
    blob = json.dumps([asdict(p) if hasattr(p, "__dataclass_fields__") else p for p in parts],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
