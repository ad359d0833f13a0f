"""Models × datasets → Task values: what each worker process runs, serialisable to JSON."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from compass.config import Config, DatasetConfig, ModelConfig, stable_hash, without
from compass.schema import from_dict

# Model keys that change how fast predictions come, never what they are (batch-size invariance).
_SPEED_ONLY = ("batch_size", "run_cfg", "device",
               # where and how an API model is reached, not what it answers
               "api_base", "api_key_env", "api_retries", "api_timeout_s")
# Model keys that change what predictions cost, never what they are: a price corrected before -r
# keeps them, and their recorded tokens are repriced (``compass.tasks.usage.reprice``).
_COST_ONLY = ("price_per_mtok",)
# Model keys that say how answers are read from the predictions, never what they are: dropped from
# infer_hash (not blanked: runs made before the key existed keep their hash), so -r re-scores with them changed.
_READING_ONLY = ("think_open",)


@dataclass(frozen=True)
class Shard:
    """Samples ``[start, stop)`` of a dataset (after ``test_range``): the part of it one task predicts.
    Shards of a dataset write their own predictions files, merged into the dataset's once all finish."""

    start: int
    stop: int

    @property
    def name(self) -> str:
        return f"{self.start}-{self.stop}"


@dataclass
class Task:
    """One model and the datasets it serves: a worker loads the model once for all of them."""

    id: str
    model: ModelConfig
    datasets: list[DatasetConfig]
    shards: dict[str, Shard] = field(default_factory=dict)  # dataset abbr -> its part; absent: all of it
    cost: int | None = None  # the partitioner's estimate, in tokens

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=_type_name)

    @classmethod
    def from_file(cls, path: str | Path) -> Task:
        return from_dict(cls, json.loads(Path(path).read_text()), str(path))


def _type_name(value):
    return getattr(value, "__name__", str(value))


def infer_hash(model: ModelConfig, dataset: DatasetConfig) -> str:
    """Everything that determines the predictions; evaluation, speed and price settings are left out."""
    identity = {k: v for k, v in _model_identity(model).items() if k not in _READING_ONLY}
    return stable_hash(identity, without(dataset, ("eval_cfg", "prompt_preset")))


def config_hash(model: ModelConfig, dataset: DatasetConfig) -> str:
    return stable_hash(_model_identity(model), dataset)


def _model_identity(model: ModelConfig) -> dict:
    """The model's keys that decide its predictions. Cost-only keys are blanked, not dropped, so a
    model without a price hashes as before (its runs stay resumable across this change)."""
    return {**without(model, _SPEED_ONLY), **dict.fromkeys(_COST_ONLY)}


def safe_id(text: str) -> str:
    """A task id that is also a safe, unique file name (see :func:`compass.store.safe_name`)."""
    from compass.store import safe_name

    return safe_name(text, "task name")


def plan(cfg: Config) -> list[Task]:
    """The inference tasks of a run, as the configured partitioner splits them."""
    from compass.partitioners import PARTITIONERS

    return PARTITIONERS[cfg.partitioner.type](cfg)


def plan_eval(cfg: Config) -> list[Task]:
    """The evaluation tasks: whole datasets (shards were merged), one task per model, or the naive
    partitioner's grouping when it splits."""
    from compass.partitioners import naive

    return naive.partition(cfg)
