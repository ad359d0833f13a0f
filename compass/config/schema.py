"""The config schema: every key a user may write is a field of a frozen dataclass below.

``docs/config.md`` documents each one. Component ``type`` values are names (strings); a class object
is accepted and read by its ``__name__`` so OpenCompass-style imports keep working. Each name is
canonicalised when the config is read, through the table of callables (and its aliases) that sits
next to the implementations: ``compass.models.MODELS``, ``compass.datasets.DATASETS``,
``compass.inferencers.INFERENCERS``, ``compass.prompts.retrievers.RETRIEVERS``,
``compass.evaluators.EVALUATORS`` and ``POSTPROCESSORS``, ``compass.partitioners.PARTITIONERS``,
``compass.runners.RUNNERS``. A ``validate`` method checks values and returns the canonical copy.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from compass.errors import CompassError
from compass.schema import from_dict


def canonical(value: Any, table: Mapping[str, object], aliases: Mapping[str, str], where: str) -> str:
    """The canonical name of a component ``type`` (string or class), or a one-line error."""
    name = value if isinstance(value, str) else getattr(value, "__name__", None)
    if name in table:
        return str(name)
    if name in aliases:
        return aliases[str(name)]
    known = [*table, *aliases]
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
    raise CompassError(f"{where}: unknown type {name!r} ({hint})")


@dataclass(frozen=True)
class RunCfg:
    num_gpus: int = 0
    num_procs: int = 1


@dataclass(frozen=True)
class Thinking:
    """Where a reasoning model's answer starts in its completions (from its ``think_tags`` and
    ``think_open``): what evaluation needs of a model's thinking, the model's own or a baseline's."""

    tags: list[str]  # [opening, closing]
    # The chat template opened the block in the prompt (DeepSeek-R1: the prompt ends with "<think>\n"),
    # so a completion starts inside it and one without the closing tag was cut off while thinking.
    starts_open: bool = False


@dataclass(frozen=True)
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
    system_prompt: str | None = None  # chat models: the system turn before each prompt
    # Reasoning models: the tags around their thinking, e.g. ["<think>", "</think>"]; the answer is
    # what follows the closing tag (the raw text stays in the predictions).
    think_tags: list[str] | None = None
    # The chat template opens the thinking block inside the prompt: completions start in it. Set by
    # hand, not read from the template: API servers apply theirs out of sight, and evaluation never
    # loads a tokenizer.
    think_open: bool = False
    price_per_mtok: dict[str, float] | None = None  # API models: dollars per million "prompt" / "completion" tokens
    stop: list[str] = field(default_factory=list)
    model_kwargs: dict = field(default_factory=dict)
    tokenizer_kwargs: dict = field(default_factory=dict)
    generation_kwargs: dict = field(default_factory=dict)
    run_cfg: RunCfg = field(default_factory=RunCfg)
    api_base: str | None = None  # API models: the server's URL, e.g. http://127.0.0.1:8000/v1 (None: OpenAI's)
    api_key_env: str = "OPENAI_API_KEY"  # API models: the NAME of the environment variable holding the key
    api_retries: int = 4  # API models: extra attempts after HTTP 429/5xx, timeouts and dropped connections
    api_timeout_s: float = 120.0  # API models: per request

    def validate(self, where: str) -> ModelConfig:
        from compass.models import MODEL_ALIASES, MODELS

        if not self.abbr.strip():
            raise CompassError(f"{where}.abbr: must not be empty (it names the model's files and leaderboard column)")
        # A key value must never reach a config, a task file or a log: only the variable's name is accepted.
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.api_key_env) or self.api_key_env.startswith("sk-"):
            raise CompassError(f"{where}.api_key_env: expected the name of an environment variable (e.g. "
                               f"OPENAI_API_KEY), not a key; keys are only read from the environment")
        if self.api_retries < 0 or self.api_timeout_s <= 0:
            raise CompassError(f"{where}: api_retries must be >= 0 and api_timeout_s > 0")
        for key in ("max_out_len", "max_seq_len", "batch_size", "max_batch_tokens"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise CompassError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")
        if self.price_per_mtok is not None:
            for key, value in self.price_per_mtok.items():
                if key not in ("prompt", "completion") or value < 0:
                    raise CompassError(f"{where}.price_per_mtok.{key}: expected 'prompt' and 'completion' prices >= 0 "
                                       f"(dollars per million tokens), got {value}")
            missing = [k for k in ("prompt", "completion") if k not in self.price_per_mtok]
            if missing:  # a side left out would cost nothing, and --max-cost would stop late
                raise CompassError(f"{where}.price_per_mtok: no '{missing[0]}' price; give both 'prompt' and "
                                   f"'completion' (dollars per million tokens, 0 where free)")
        if self.think_tags is not None and (len(self.think_tags) != 2 or not all(t.strip() for t in self.think_tags)):
            raise CompassError(f"{where}.think_tags: expected [opening, closing] tags, e.g. ['<think>', '</think>'], "
                               f"got {self.think_tags}")
        if self.think_open and self.think_tags is None:
            raise CompassError(f"{where}.think_open: needs think_tags, the [opening, closing] tags of the block "
                               f"the prompt opens, e.g. ['<think>', '</think>']")
        if self.max_out_len >= self.max_seq_len and canonical(self.type, MODELS, MODEL_ALIASES, where) != "openai":
            raise CompassError(f"{where}.max_out_len: {self.max_out_len} new tokens do not fit in max_seq_len "
                               f"{self.max_seq_len} (the model's context) with any prompt")
        return replace(self, type=canonical(self.type, MODELS, MODEL_ALIASES, f"{where}.type"))

    @property
    def thinking(self) -> Thinking | None:
        return Thinking(list(self.think_tags), self.think_open) if self.think_tags else None


@dataclass(frozen=True)
class ReaderCfg:
    input_columns: list[str] | None = None
    output_column: str | None = None
    train_split: str = "dev"
    test_split: str = "test"
    test_range: str | None = None  # a slice such as "[0:100]", applied after loading
    id_column: str | None = None  # custom datasets: the column holding sample ids (default: row number)
    group_column: str | None = None  # custom datasets: a column grouping samples (subject, category)
    cluster_column: str | None = None  # custom datasets: samples sharing a value are not independent (the gate)

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


@dataclass(frozen=True)
class TemplateCfg:
    template: str
    begin: str = ""
    type: Any = None  # accepted for OpenCompass compatibility (PromptTemplate); ignored


@dataclass(frozen=True)
class RetrieverCfg:
    type: Any = "zero"  # ZeroRetriever
    k: int = 0
    fix_id_list: list[int] | None = None
    seed: int = 0  # RandomRetriever; lm_eval_default (lm-eval's default is 1234)

    def validate(self, where: str) -> RetrieverCfg:
        from compass.prompts.retrievers import RETRIEVER_ALIASES, RETRIEVERS

        kind = canonical(self.type, RETRIEVERS, RETRIEVER_ALIASES, f"{where}.type")
        if kind == "fixed" and self.fix_id_list is None and self.k < 1:
            raise CompassError(f"{where}: FixKRetriever needs fix_id_list or k >= 1")
        k = len(self.fix_id_list) if self.fix_id_list is not None and self.k == 0 else self.k
        return replace(self, type=kind, k=k)


@dataclass(frozen=True)
class InferencerCfg:
    type: Any
    max_out_len: int | None = None  # overrides the model's max_out_len for this dataset
    stop: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=lambda: ["A", "B", "C", "D"])
    continuation: str = " {label}"  # what is scored after the prompt; {label} or {text}
    num_samples: int = 1  # completions per sample (GenInferencer), e.g. 20 for pass@10
    temperature: float = 0.0  # 0: greedy; > 0: seeded sampling
    top_p: float = 1.0

    def validate(self, where: str) -> InferencerCfg:
        from compass.inferencers import INFERENCER_ALIASES, INFERENCERS

        self = replace(self, type=canonical(self.type, INFERENCERS, INFERENCER_ALIASES, f"{where}.type"))
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
        if self.max_out_len is not None and self.max_out_len < 1:
            raise CompassError(f"{where}.max_out_len: must be >= 1, got {self.max_out_len}")
        if self.type == "loglikelihood" and len(set(self.choices)) < 2:
            raise CompassError(f"{where}.choices: multiple choice needs at least two distinct choices, got {self.choices}")
        return self


@dataclass(frozen=True)
class InferCfg:
    prompt_template: TemplateCfg
    inferencer: InferencerCfg
    ice_template: TemplateCfg | None = None
    retriever: RetrieverCfg = field(default_factory=RetrieverCfg)

    def validate(self, where: str) -> None:
        if self.retriever.type != "zero" and self.ice_template is None:
            raise CompassError(f"{where}.ice_template: a few-shot retriever needs an ice_template")


@dataclass(frozen=True)
class ComponentCfg:
    type: Any


@dataclass(frozen=True)
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
    # judge_pairwise: the baseline model's thinking, planned in from its config when the config is
    # read (an evaluation task holds only its own model), so its answers are stripped like ours.
    baseline_thinking: Thinking | None = None
    rating_range: list[float] = field(default_factory=lambda: [1.0, 10.0])  # judge_single: lowest, highest rating
    unparseable_score: float = 0.0  # judge_single: score in [0, 1] of a judgment with no readable rating
    swap: bool = True  # judge_pairwise: ask in both orders (A/B, B/A) so the judge's position bias cancels

    def validate_judge(self, where: str) -> EvaluatorCfg:
        if self.judge is None:
            raise CompassError(f"{where}.judge: {self.type} needs a judge model config")
        self = replace(self, judge=from_dict(ModelConfig, self.judge, f"{where}.judge"))
        if self.type == "judge_pairwise" and not self.baseline:
            raise CompassError(f"{where}.baseline: judge_pairwise needs the abbr of the baseline model")
        if len(self.rating_range) != 2 or self.rating_range[0] >= self.rating_range[1]:
            raise CompassError(f"{where}.rating_range: expected [lowest, highest], got {self.rating_range}")
        if not 0.0 <= self.unparseable_score <= 1.0:
            raise CompassError(f"{where}.unparseable_score: must be in [0, 1], got {self.unparseable_score}")
        from compass.prompts.judge_templates import compile_template  # here: it imports jinja2

        compile_template(self.judge_template, self.type, f"{where}.judge_template")
        return self


@dataclass(frozen=True)
class EvalCfg:
    evaluator: EvaluatorCfg
    pred_postprocessor: ComponentCfg | None = None

    def validate(self, where: str) -> EvalCfg:
        from compass.evaluators import EVALUATOR_ALIASES, EVALUATORS, POSTPROCESSOR_ALIASES, POSTPROCESSORS

        evaluator = replace(self.evaluator, type=canonical(self.evaluator.type, EVALUATORS, EVALUATOR_ALIASES,
                                                           f"{where}.evaluator.type"))
        if evaluator.type in ("judge_single", "judge_pairwise"):
            evaluator = evaluator.validate_judge(f"{where}.evaluator")
        for key in ("timeout_s", "workers", "memory_mb"):
            value = getattr(evaluator, key)
            if value is not None and value <= 0:
                raise CompassError(f"{where}.evaluator.{key}: must be > 0, got {value}")
        post = self.pred_postprocessor
        if post is not None:
            post = ComponentCfg(canonical(post.type, POSTPROCESSORS, POSTPROCESSOR_ALIASES,
                                          f"{where}.pred_postprocessor.type"))
        return replace(self, evaluator=evaluator, pred_postprocessor=post)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
    prompt_preset: str | None = None  # whose prompts these are (e.g. "lm-eval"), shown with every result

    def validate(self, where: str) -> DatasetConfig:
        from compass.datasets import DATASET_ALIASES, DATASETS

        if not self.abbr.strip():
            raise CompassError(f"{where}.abbr: must not be empty (it names the dataset's files and leaderboard row)")
        kind = canonical(self.type, DATASETS, DATASET_ALIASES, f"{where}.type")
        needle = self.needle_cfg
        if isinstance(needle, dict):
            needle = from_dict(NeedleCfg, needle, f"{where}.needle_cfg")
        if kind == "needle" and needle is None:
            raise CompassError(f"{where}.needle_cfg: required for type 'needle' (lengths, depths, tokenizer_path)")
        if kind != "needle" and needle is not None:
            raise CompassError(f"{where}.needle_cfg: only type 'needle' reads it, this dataset is {kind!r}")
        return replace(self, type=kind, needle_cfg=needle)


@dataclass(frozen=True)
class SummaryGroup:
    name: str
    subsets: list[str]
    weights: list[float] | None = None


@dataclass(frozen=True)
class SummarizerCfg:
    dataset_abbrs: list[str] | None = None
    summary_groups: list[SummaryGroup] = field(default_factory=list)
    type: Any = None  # accepted for OpenCompass compatibility; ignored
    flag_truncated: float = 0.05  # flag a score when more than this share of its completions hit max_out_len

    def validate(self, where: str) -> None:
        if not 0.0 <= self.flag_truncated <= 1.0:
            raise CompassError(f"{where}.flag_truncated: must be in [0, 1], got {self.flag_truncated}")


@dataclass(frozen=True)
class PartitionerCfg:
    type: Any = "NaivePartitioner"
    n: int | None = None  # naive: datasets per task; None: all of a model's datasets in one task (one model load)
    max_task_size: int | None = None  # size: tokens a task may cost at most (prompts + expected generation)
    num_worker: int | None = None  # num_worker: tasks per model, of about equal cost

    def validate(self, where: str) -> PartitionerCfg:
        from compass.partitioners import PARTITIONER_ALIASES, PARTITIONERS

        kind = canonical(self.type, PARTITIONERS, PARTITIONER_ALIASES, f"{where}.type")
        for key in ("n", "max_task_size", "num_worker"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise CompassError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")
        needs = {"size": "max_task_size", "num_worker": "num_worker"}.get(kind)
        if needs and getattr(self, needs) is None:
            raise CompassError(f"{where}.{needs}: required by the {self.type} partitioner")
        return replace(self, type=kind)


@dataclass(frozen=True)
class StageCfg:
    partitioner: dict = field(default_factory=lambda: {"type": "NaivePartitioner"})
    runner: dict = field(default_factory=lambda: {"type": "LocalRunner"})


@dataclass(frozen=True)
class RunnerCfg:
    type: Any = "LocalRunner"
    max_num_workers: int = 1
    retry: int = 1
    heartbeat_s: float | None = None  # kill and retry a task whose log and events stop growing this long
    poll_s: float | None = None  # seconds between checks of running tasks; None: the runner's default
    cpus_per_task: int = 1  # ray: num_cpus per task; slurm: --cpus-per-task
    address: str | None = None  # ray: None (a local cluster for this run), "auto", "HOST:PORT", "ray://HOST:PORT"
    partition: str | None = None  # slurm: sbatch --partition
    gres: str = "gpu:{num_gpus}"  # slurm: sbatch --gres for a task needing GPUs ({num_gpus} filled in)
    time: str | None = None  # slurm: sbatch --time limit, e.g. "2:00:00" or "1-12:00:00"
    qos: str | None = None  # slurm: sbatch --qos
    account: str | None = None  # slurm: sbatch --account
    extra_flags: list[str] = field(default_factory=list)  # slurm: more sbatch flags, as given

    def validate(self, where: str) -> RunnerCfg:
        from compass.runners import RUNNER_ALIASES, RUNNERS
        from compass.runners.slurm import check_flags, check_gres, check_time

        if self.max_num_workers < 1:
            raise CompassError(f"{where}.max_num_workers: must be >= 1, got {self.max_num_workers}")
        if self.retry < 0:
            raise CompassError(f"{where}.retry: must be >= 0, got {self.retry}")
        for key in ("heartbeat_s", "poll_s"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise CompassError(f"{where}.{key}: must be > 0 seconds (or None), got {value}")
        if self.cpus_per_task < 1:
            raise CompassError(f"{where}.cpus_per_task: must be >= 1, got {self.cpus_per_task}")
        if self.address is not None and not re.fullmatch(r"auto|local|(ray://)?[\w.\-\[\]:]+:\d+", self.address):
            raise CompassError(f"{where}.address: expected 'auto', 'local', 'HOST:PORT' or 'ray://HOST:PORT', "
                               f"got {self.address!r}")
        for key in ("partition", "qos", "account"):
            value = getattr(self, key)
            if value is not None and not re.fullmatch(r"[\w.\-,]+", value):
                raise CompassError(f"{where}.{key}: expected a Slurm name (letters, digits, . - _ ,), got {value!r}")
        for key, check in (("time", check_time), ("gres", check_gres), ("extra_flags", check_flags)):
            try:
                check(getattr(self, key))
            except ValueError as exc:
                raise CompassError(f"{where}.{key}: {exc}") from None
        return replace(self, type=canonical(self.type, RUNNERS, RUNNER_ALIASES, f"{where}.type"))


@dataclass(frozen=True)
class Config:
    """A validated eval config: what ``compass run`` executes."""

    file: str
    models: list[ModelConfig]
    datasets: list[DatasetConfig]
    summarizer: SummarizerCfg = field(default_factory=SummarizerCfg)
    work_dir: str | None = None
    runner: RunnerCfg = field(default_factory=RunnerCfg)
    partitioner: PartitionerCfg = field(default_factory=PartitionerCfg)
    # labels of `compass contamination` (a directory): scores split by them in the summaries; None:
    # WORK_DIR/<config name>/contamination/ when it exists (compass/contamination/labels.py)
    contamination: str | None = None

    @property
    def name(self) -> str:
        return Path(self.file).stem


def without(config: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """A config's fields but ``keys``: what an identity hash should cover."""
    return {k: v for k, v in asdict(config).items() if k not in keys}


def stable_hash(*parts: Any) -> str:
    """A short hash of JSON-able values, stable across processes and machines."""
    blob = json.dumps([asdict(p) if hasattr(p, "__dataclass_fields__") else p for p in parts],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


