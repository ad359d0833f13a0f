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
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from compass.errors import CompassError
from compass.schema import from_dict

MODEL_TYPES = {"HuggingFaceCausalLM": "hf", "HuggingFace": "hf", "hf": "hf",
               "OpenAI": "openai", "OpenAISDK": "openai", "openai": "openai",
               "VLLM": "vllm", "VLLMCausalLM": "vllm", "vllm": "vllm"}
DATASET_TYPES = {"MMLUDataset": "mmlu", "mmlu": "mmlu", "GSM8KDataset": "gsm8k", "gsm8k": "gsm8k",
                 "SubjectiveDataset": "subjective", "subjective": "subjective",
                 "CustomDataset": "custom", "custom": "custom",
                 "HumanevalDataset": "humaneval", "HumanEvalDataset": "humaneval", "humaneval": "humaneval",
                 "CEvalDataset": "ceval", "ceval": "ceval", "MATHDataset": "math", "math": "math",
                 "NeedleDataset": "needle", "needle": "needle"}
INFERENCER_TYPES = {"PPLInferencer": "loglikelihood", "LoglikelihoodInferencer": "loglikelihood",
                    "loglikelihood": "loglikelihood", "GenInferencer": "generate", "generate": "generate"}
RETRIEVER_TYPES = {"ZeroRetriever": "zero", "zero": "zero", "FixKRetriever": "fixed", "fixed": "fixed",
                   "RandomRetriever": "random", "random": "random",
                   "BM25Retriever": "lexical_topk", "TopkRetriever": "lexical_topk", "lexical_topk": "lexical_topk"}
EVALUATOR_TYPES = {"AccEvaluator": "accuracy", "accuracy": "accuracy",
                   "JudgeSingleEvaluator": "judge_single", "judge_single": "judge_single",
                   "JudgePairwiseEvaluator": "judge_pairwise", "judge_pairwise": "judge_pairwise",
                   "Gsm8kEvaluator": "numeric_match", "NumericMatchEvaluator": "numeric_match",
                   "numeric_match": "numeric_match",
                   "HumanEvalEvaluator": "code_exec", "HumanEvaluator": "code_exec", "code_exec": "code_exec",
                   "MATHEvaluator": "math_equiv", "math_equiv": "math_equiv",
                   "NeedleEvaluator": "needle", "needle": "needle"}
POSTPROCESSOR_TYPES = {"first_capital": "first_capital", "first_option": "first_capital",
                       "last_number": "last_number", "gsm8k": "last_number", "none": "none",
                       "humaneval": "humaneval", "humaneval_postprocess": "humaneval",
                       "humaneval_postprocess_v2": "humaneval",
                       "option_letter": "option_letter", "first_option_postprocess": "option_letter",
                       "math_answer": "math_answer", "math_postprocess": "math_answer"}
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
    max_batch_tokens: int | None = None  # HF scoring: padded tokens per forward (prefix included); None: no cap
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    chat: bool = False
    stop: list[str] = field(default_factory=list)
    model_kwargs: dict = field(default_factory=dict)
    tokenizer_kwargs: dict = field(default_factory=dict)
    generation_kwargs: dict = field(default_factory=dict)
    run_cfg: RunCfg = field(default_factory=RunCfg)
    api_base: str | None = None  # API models: the server's URL, e.g. http://127.0.0.1:8000/v1 (None: OpenAI's)
    api_key_env: str = "OPENAI_API_KEY"  # API models: the NAME of the environment variable holding the key
    api_retries: int = 4  # API models: extra attempts after HTTP 429/5xx, timeouts and dropped connections
    api_timeout_s: float = 120.0  # API models: per request

    def validate(self, where: str) -> None:
        self.type = canonical(self.type, MODEL_TYPES, f"{where}.type")
        # A key value must never reach a config, a task file or a log: only the variable's name is accepted.
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.api_key_env) or self.api_key_env.startswith("sk-"):
            raise CompassError(f"{where}.api_key_env: expected the name of an environment variable (e.g. "
                               f"OPENAI_API_KEY), not a key; keys are only read from the environment")
        if self.api_retries < 0 or self.api_timeout_s <= 0:
            raise CompassError(f"{where}: api_retries must be >= 0 and api_timeout_s > 0")
        for key in ("max_out_len", "max_seq_len", "batch_size", "max_batch_tokens"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
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
    workers: int | None = None  # code_exec: programs run at once; None: sized from the machine
    memory_mb: int | None = None  # code_exec: memory of one program, all its processes together; None: default
    # judge_single, judge_pairwise: the judge model (any backend). Read as a dict and checked in
    # validate_judge, so an error inside it names its key (a union with a dataclass would not).
    judge: dict | ModelConfig | None = None
    judge_template: str | None = None  # a jinja2 judge prompt, or a built-in's name; None: the built-in
    baseline: str | None = None  # judge_pairwise: abbr of the model (same run) each answer is compared with
    rating_range: list[float] = field(default_factory=lambda: [1.0, 10.0])  # judge_single: lowest, highest rating
    unparseable_score: float = 0.0  # judge_single: score in [0, 1] of a judgment with no readable rating
    swap: bool = True  # judge_pairwise: ask in both orders (A/B, B/A) so the judge's position bias cancels

    def validate_judge(self, where: str) -> None:
        if self.judge is None:
            raise CompassError(f"{where}.judge: {self.type} needs a judge model config")
        self.judge = from_dict(ModelConfig, self.judge, f"{where}.judge")
        if self.type == "judge_pairwise" and not self.baseline:
            raise CompassError(f"{where}.baseline: judge_pairwise needs the abbr of the baseline model")
        if len(self.rating_range) != 2 or self.rating_range[0] >= self.rating_range[1]:
            raise CompassError(f"{where}.rating_range: expected [lowest, highest], got {self.rating_range}")
        if not 0.0 <= self.unparseable_score <= 1.0:
            raise CompassError(f"{where}.unparseable_score: must be in [0, 1], got {self.unparseable_score}")
        from compass.prompts.judge_templates import compile_template  # here: it imports jinja2

        compile_template(self.judge_template, self.type, f"{where}.judge_template")


@dataclass
class EvalCfg:
    evaluator: EvaluatorCfg
    pred_postprocessor: ComponentCfg | None = None

    def validate(self, where: str) -> None:
        self.evaluator.type = canonical(self.evaluator.type, EVALUATOR_TYPES, f"{where}.evaluator.type")
        if self.evaluator.type in ("judge_single", "judge_pairwise"):
            self.evaluator.validate_judge(f"{where}.evaluator")
        if self.pred_postprocessor is not None:
            self.pred_postprocessor.type = canonical(self.pred_postprocessor.type, POSTPROCESSOR_TYPES,
                                                     f"{where}.pred_postprocessor.type")


@dataclass
class NeedleCfg:
    """The needle-in-a-haystack grid; lengths and depths count tokens of ``tokenizer_path``."""

    tokenizer_path: str  # usually the model under test's path: only its tokenizer is read
    lengths: list[int]  # context lengths in tokens, needles included
    depths: list[float] = field(default_factory=lambda: [0.0, 25.0, 50.0, 75.0, 100.0])  # % of the context
    num_samples: int = 1  # samples per cell, each with different needles
    num_needles: int = 1  # > 1: needles at spread depths, the question asks for all of them
    seed: int = 0  # needles and the synthetic haystack
    tokenizer_kwargs: dict = field(default_factory=dict)  # e.g. trust_remote_code=True

    def validate(self, where: str) -> None:
        for key, values in (("lengths", self.lengths), ("depths", self.depths)):
            if not values:
                raise CompassError(f"{where}.{key}: must not be empty")
            if len(set(values)) != len(values):  # a repeated value would repeat sample ids
                raise CompassError(f"{where}.{key}: holds a value twice ({values})")
        for i, length in enumerate(self.lengths):
            if length < 1:
                raise CompassError(f"{where}.lengths[{i}]: must be >= 1 token, got {length}")
        for i, depth in enumerate(self.depths):
            if not 0 <= depth <= 100:
                raise CompassError(f"{where}.depths[{i}]: must be a percentage in [0, 100], got {depth:g}")
        if self.num_samples < 1:
            raise CompassError(f"{where}.num_samples: must be >= 1, got {self.num_samples}")
        if not 1 <= self.num_needles <= 20:
            raise CompassError(f"{where}.num_needles: must be in [1, 20], got {self.num_needles}")
        if not self.tokenizer_path.strip():
            raise CompassError(f"{where}.tokenizer_path: must name a tokenizer (usually the model's path)")


@dataclass
class DatasetConfig:
    abbr: str
    type: Any
    path: str
    infer_cfg: InferCfg
    eval_cfg: EvalCfg
    name: str | list[str] | None = None  # subset(s), e.g. MMLU subjects; None means all
    reader_cfg: ReaderCfg = field(default_factory=ReaderCfg)
    # A dict only until validate() reads it: the schema's union check would report just "expected
    # dict", while reading it here names the exact key (e.g. needle_cfg.depths[3]).
    needle_cfg: NeedleCfg | dict | None = None  # type 'needle' only: the length x depth grid

    def validate(self, where: str) -> None:
        self.type = canonical(self.type, DATASET_TYPES, f"{where}.type")
        if isinstance(self.needle_cfg, dict):
            self.needle_cfg = from_dict(NeedleCfg, self.needle_cfg, f"{where}.needle_cfg")
        if self.type == "needle" and self.needle_cfg is None:
            raise CompassError(f"{where}.needle_cfg: required for type 'needle' (lengths, depths, tokenizer_path)")
        if self.type != "needle" and self.needle_cfg is not None:
            raise CompassError(f"{where}.needle_cfg: only type 'needle' reads it, this dataset is {self.type!r}")


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
class PartitionerCfg:
    type: Any = "NaivePartitioner"
    n: int | None = None  # datasets per task; None: all of a model's datasets in one task (one model load)

    def validate(self, where: str) -> None:
        self.type = canonical(self.type, PARTITIONER_TYPES, f"{where}.type")
        if self.n is not None and self.n < 1:
            raise CompassError(f"{where}.n: must be >= 1 (datasets per task), got {self.n}")


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
    partitioner: PartitionerCfg = field(default_factory=PartitionerCfg)

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
    for i, ds in enumerate(datasets):  # a pairwise judge's baseline answers come from this same run
        baseline = ds.eval_cfg.evaluator.baseline
        if baseline is not None and baseline not in {m.abbr for m in models}:
            raise CompassError(f"{path}: datasets[{i}].eval_cfg.evaluator.baseline: {baseline!r} is not a model "
                               f"of this config (models: {', '.join(m.abbr for m in models)})")
    summarizer = from_dict(SummarizerCfg, raw.get("summarizer") or {}, f"{path}: summarizer")
    infer = from_dict(StageCfg, raw.get("infer") or {}, f"{path}: infer")
    partitioner = from_dict(PartitionerCfg, infer.partitioner, f"{path}: infer.partitioner")
    runner = from_dict(RunnerCfg, infer.runner, f"{path}: infer.runner")
    work_dir = raw.get("work_dir")
    if work_dir is not None and not isinstance(work_dir, str):
        raise CompassError(f"{path}: work_dir: expected str, got {type(work_dir).__name__}")
    return Config(str(path), models, datasets, summarizer, work_dir, runner, partitioner)


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
