"""The whole flow of ``compass run``: config → plan → run (infer → evaluate) → summarize.

Each stage leaves plain files in the run directory (see ``compass.store`` and ``compass.records``),
so any stage can be re-run from what the earlier one wrote: ``-r`` resumes inference where it
stopped, and ``-m eval`` re-scores from the predictions alone, with no model and no dataset.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from compass import preflight, provenance, resume
from compass.config import Config, DatasetConfig, ModelConfig, load_config
from compass.errors import CompassError, TaskFailed
from compass.plan import Shard, Task, infer_hash, plan, plan_eval
from compass.runners import RUNNERS, Job, Outcome
from compass.runners.local import python_module
from compass.store import RunDir, RunLock, count_lines, read_json, write_text_atomic
from compass.summarize import preload_report
from compass.tasks import usage
from compass.tasks.usage import MAX_COST_ENV, CostLimitReached
from compass.tasks.worker import EXIT_BAD_INPUT, EXIT_LIMIT

log = logging.getLogger(__name__)
MODES = ("all", "infer", "eval", "summarize")


@dataclass
class RunOptions:
    resume: str | None = None  # "latest" or a timestamp
    dry_run: bool = False
    work_dir: str | None = None
    max_workers: int | None = None
    retry: int | None = None
    mode: str = "all"  # all | infer | eval | summarize
    quiet: bool = False  # no progress bars
    max_cost: float | None = None  # dollars: inference stops cleanly once the run has spent this much
    cfg_options: list[str] = field(default_factory=list)  # KEY=VALUE overrides of the config
    contamination: str | None = None  # labels directory (--contamination), over the config's key


@dataclass
class RunReport:
    run_dir: RunDir | None
    text: str  # the plan (dry run) or the leaderboard
    failures: list[Outcome] = field(default_factory=list)


def run(config_file: str, opts: RunOptions) -> RunReport:
    cfg = load_config(config_file, opts.cfg_options)                 # 1. config
    if opts.contamination is not None:
        cfg = replace(cfg, contamination=opts.contamination)
    tasks, eval_tasks = plan(cfg), plan_eval(cfg)                   # 2. plan
    if opts.dry_run:
        return RunReport(None, describe_plan(cfg, tasks))
    infers = opts.mode in ("all", "infer")
    if opts.resume:
        run_dir, counts = RunDir.resume(work_dir(cfg, opts), cfg.name, None if opts.resume == "latest" else opts.resume), None
    elif infers:  # 3. weights and data, before a new run's directory exists
        counts = preflight.check(cfg, tasks)
        run_dir = RunDir.create(work_dir(cfg, opts), cfg.name)
    else:
        raise CompassError(f"--mode {opts.mode}: works on an earlier run; add -r (the latest) or -r TIMESTAMP")
    preload_report()  # while the workers run
    with run_dir.lock("compass run") as lock:
        check_resumable(run_dir, tasks, eval_tasks)                  # 4. the run accepts this config
        reprice(run_dir, tasks, eval_tasks)
        todo = [t for t in tasks if not predictions_complete(run_dir, t)] if infers else []
        if counts is None:  # resumed: only where inference is left to do
            counts = preflight.check(cfg, todo)
        record_config(cfg, run_dir, [*tasks, *eval_tasks])
        info = {**provenance.environment(), "mode": opts.mode, "cfg_options": opts.cfg_options,
                "started": provenance.now(), "stages": {}}
        failures: list[Outcome] = []
        if todo:                                                     # 5. inference
            failures += timed(info, "infer", lambda: run_stage(cfg, opts, run_dir, todo, "infer", lock, counts))
        merge_shards(run_dir, tasks)
        if opts.mode in ("all", "eval"):                             # 6. evaluation
            failed = {(t.model.abbr, d.abbr) for t in tasks if t.id in {o.job.id for o in failures} for d in t.datasets}
            ready = [t for t in eval_tasks if not failed & {(t.model.abbr, d.abbr) for d in t.datasets}]
            failures += timed(info, "eval", lambda: run_stage(cfg, opts, run_dir, ready, "eval", lock, counts))
        record_run(run_dir, {**info, "finished": provenance.now()})
        text = summarize(run_dir, cfg)                               # 7. summary
    if failures:
        bad_input = all(o.returncode == EXIT_BAD_INPUT for o in failures)
        limited = all(o.returncode in (EXIT_LIMIT, EXIT_BAD_INPUT) for o in failures) and not bad_input
        error = (CostLimitReached if limited else CompassError if bad_input else TaskFailed)(failure_report(failures))
        error.partial_leaderboard = f"PARTIAL results ({len(failures)} task(s) failed):\n{text}"  # type: ignore[attr-defined]
        raise error
    return RunReport(run_dir, text + f"\nrun directory: {run_dir.root}\n"
                                     f"summary: {run_dir.summary_dir}/summary.{{txt,csv,md,html}}")


FORMATS = ("txt", "csv", "md", "html")


def summarize(run_dir: RunDir, cfg: Config) -> str:
    """Write every summary format of a run from its result files; return the text leaderboard."""
    from compass.summarize import tables  # numpy's import is preloaded with the report's, off the start-up path

    columns = [tables.Column(m.abbr, run_dir, m.abbr) for m in cfg.models]
    return write_report(cfg.name, columns, [d.abbr for d in cfg.datasets], cfg, run_dir.summary_dir, FORMATS)


def write_report(title: str, columns, datasets: list[str], cfg: Config, out: Path, formats,
                 contamination: str | None = None) -> str:
    """``contamination``: the labels directory, over the config's; either way, datasets with labels
    get their scores split by label (compass.summarize.split)."""
    from compass.summarize import html, split, tables

    table = tables.collect(columns, datasets, cfg.summarizer)
    table.split = split.collect(columns, datasets, contamination or cfg.contamination)
    renderers = {"txt": tables.to_text, "csv": tables.to_csv, "md": tables.to_markdown,
                 "html": lambda t: html.render(title, t, datasets)}
    for fmt in formats:
        write_text_atomic(out / f"summary.{fmt}", renderers[fmt](table))
    return tables.to_text(table)


def timed(info: dict, stage: str, work):
    start = time.monotonic()
    try:
        return work()
    finally:
        info["stages"][stage] = round(time.monotonic() - start, 3)


def record_run(run_dir: RunDir, info: dict) -> None:
    """Append this invocation to the run's history (a resumed run keeps its earlier ones)."""
    path = run_dir.root / "configs" / "run_info.json"
    history = read_json(path) if path.exists() else []
    write_text_atomic(path, json.dumps([*history, info], indent=2) + "\n")


def work_dir(cfg: Config, opts: RunOptions) -> Path:
    return Path(opts.work_dir or cfg.work_dir or "outputs")


def check_resumable(run_dir: RunDir, tasks: list[Task], eval_tasks: list[Task]) -> None:
    """A resumed run refuses, before writing anything, a config whose model or prompts differ from
    the ones its predictions were made with (evaluation, speed and price settings may change), or
    that splits a dataset into other shards."""
    from compass import records
    from compass.records import PredictionMeta

    parts: dict[tuple[str, str], list[str]] = {}
    for task in tasks:
        for ds in task.datasets:
            shard = task.shards.get(ds.abbr)
            parts.setdefault((task.model.abbr, ds.abbr), []).extend([shard.name] if shard else [])
    hashes = {(t.model.abbr, ds.abbr): infer_hash(t.model, ds) for t in tasks for ds in t.datasets}
    for (model, dataset), names in parts.items():
        resume.check_layout(run_dir, model, dataset, hashes[(model, dataset)], names)
    for task in eval_tasks:
        for ds in task.datasets:
            meta = records.try_read_record(run_dir.prediction_meta(task.model.abbr, ds.abbr), PredictionMeta)
            if meta is not None and meta.infer_hash != infer_hash(task.model, ds):
                raise CompassError(f"{run_dir.predictions(task.model.abbr, ds.abbr)}: predictions were made with a "
                                   f"different model or prompt config; start a new run instead of resuming this one")


def reprice(run_dir: RunDir, tasks: list[Task], eval_tasks: list[Task]) -> None:
    """What a resumed run spent, at each model's and judge's price now (one may have been corrected
    since), from the recorded tokens of every dataset and shard: before any worker checks
    ``--max-cost``, and so that finished datasets' results show it too."""
    for task in tasks:
        for ds in task.datasets:
            shard = task.shards.get(ds.abbr)
            for part in {None, shard.name if shard else None}:
                usage.reprice(run_dir.prediction_meta(task.model.abbr, ds.abbr, part), task.model,
                              infer_hash(task.model, ds))
    for task in eval_tasks:
        for ds in task.datasets:
            if isinstance(judge := ds.eval_cfg.evaluator.judge, ModelConfig):
                usage.reprice_judge(run_dir.judge_usage(task.model.abbr, ds.abbr), judge)


def record_config(cfg: Config, run_dir: RunDir, tasks: list[Task]) -> None:
    """The config as given and as resolved, and each task's file: written once the run is accepted."""
    configs = run_dir.root / "configs"
    configs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cfg.file, configs / Path(cfg.file).name)
    write_text_atomic(configs / "resolved.json", json.dumps(asdict(cfg), indent=2, default=str) + "\n")
    for task in tasks:
        write_text_atomic(run_dir.task_file(task.id), task.to_json())


def predictions_complete(run_dir: RunDir, task: Task) -> bool:
    """Every dataset of the task has its predictions: whole, or (a shard) its part of them."""
    def done(ds: DatasetConfig) -> bool:
        expected = infer_hash(task.model, ds)
        shard = task.shards.get(ds.abbr)
        return resume.is_complete(run_dir, task.model.abbr, ds.abbr, expected) or (
            shard is not None and resume.is_complete(run_dir, task.model.abbr, ds.abbr, expected, shard.name))

    return all(done(ds) for ds in task.datasets)


def merge_shards(run_dir: RunDir, tasks: list[Task]) -> None:
    """Datasets predicted in shards (size partitioner) get their one predictions file once all are done."""
    parts: dict[tuple[str, str], list[Shard]] = {}
    for t in tasks:
        for abbr, shard in t.shards.items():
            parts.setdefault((t.model.abbr, abbr), []).append(shard)
    for (model, dataset), shards in parts.items():
        resume.merge_shards(run_dir, model, dataset, [s.name for s in sorted(shards, key=lambda s: s.start)])


def run_stage(cfg: Config, opts: RunOptions, run_dir: RunDir, tasks: list[Task], stage: str, lock: RunLock,
              counts: dict[str, int]) -> list[Outcome]:
    if not tasks:
        return []
    module = {"infer": "compass.tasks.infer", "eval": "compass.tasks.evaluate"}[stage]
    env = {MAX_COST_ENV: str(opts.max_cost)} if opts.max_cost is not None else {}
    jobs = [Job(t.id, python_module(module, str(run_dir.task_file(t.id))), run_dir.log(stage, t.id),
                t.model.run_cfg.num_gpus if stage == "infer" else 0, env) for t in tasks]
    from tqdm import tqdm

    if stage == "infer":
        files = [run_dir.predictions(t.model.abbr, d.abbr, t.shards[d.abbr].name if d.abbr in t.shards else None)
                 for t in tasks for d in t.datasets]
        total = sum(t.shards[d.abbr].stop - t.shards[d.abbr].start if d.abbr in t.shards else counts[d.abbr]
                    for t in tasks for d in t.datasets)
        bar = tqdm(total=total, initial=min(total, sum(count_lines(f) for f in files)), desc="inference (samples)",
                   mininterval=0.5, disable=opts.quiet)

        def tick() -> None:
            done = min(total, sum(count_lines(f) for f in files))
            if done > bar.n:
                bar.update(done - bar.n)
    else:
        # Earlier outcomes go first: a failed evaluation must leave no result that looks current.
        for t in tasks:
            for d in t.datasets:
                run_dir.result(t.model.abbr, d.abbr).unlink(missing_ok=True)
                run_dir.scored(t.model.abbr, d.abbr).unlink(missing_ok=True)
        bar = tqdm(total=len(jobs), desc="evaluation (tasks)", disable=opts.quiet)

        def tick() -> None:
            done = sum(1 for t in tasks if all(run_dir.result(t.model.abbr, d.abbr).exists() for d in t.datasets))
            if done > bar.n:
                bar.update(done - bar.n)
    try:
        outcomes = RUNNERS[cfg.runner.type](jobs, cfg.runner, max_workers=opts.max_workers or cfg.runner.max_num_workers,
                                            retry=cfg.runner.retry if opts.retry is None else opts.retry, on_tick=tick,
                                            pass_fds=(lock.fd,))
    finally:
        bar.close()
    return [o for o in outcomes if not o.ok]


def failure_report(failures: list[Outcome]) -> str:
    lines = [f"{len(failures)} task(s) failed:"]
    for o in failures:
        lines.append(f"  {o.job.id} (exit {o.returncode}, {o.attempts} attempt(s)): {o.error}  [log: {o.job.log}]")
    return "\n".join(lines)


def describe_plan(cfg: Config, tasks: list[Task]) -> str:
    lines = [f"config {cfg.file}: {len(cfg.models)} model(s) × {len(cfg.datasets)} dataset(s) → {len(tasks)} task(s)"]
    for t in tasks:
        parts = [f"{d.abbr}[{t.shards[d.abbr].start}:{t.shards[d.abbr].stop}]" if d.abbr in t.shards else d.abbr
                 for d in t.datasets]
        cost = f", cost {t.cost:,} tokens" if t.cost is not None else ""
        lines.append(f"  task {t.id}: model {t.model.abbr} ({t.model.path}){cost}, "
                     f"{len(t.datasets)} dataset(s): {', '.join(parts)}")
    return "\n".join(lines)


def report(run_paths: list[Path], formats=FORMATS, out: Path | None = None, contamination: str | None = None) -> str:
    """Rewrite summaries from result files (no model call, no re-scoring); several runs merge into
    one leaderboard, a model abbr seen in two runs getting its run's name in brackets."""
    from compass.schema import from_dict

    if len(run_paths) > 1 and out is None:
        raise CompassError("--out: needed when merging several runs (where should the summary go?)")
    configs = []
    for path in run_paths:
        resolved = path / "configs" / "resolved.json"
        if not resolved.is_file():
            raise CompassError(f"{path}: not a run directory (no configs/resolved.json)")
        configs.append((RunDir(path), from_dict(Config, read_json(resolved), str(resolved))))
    from compass.summarize import tables

    seen = [m.abbr for _, cfg in configs for m in cfg.models]
    columns = [tables.Column(m.abbr if seen.count(m.abbr) == 1 else f"{m.abbr} ({run.root.parent.name}/{run.root.name})",
                             run, m.abbr) for run, cfg in configs for m in cfg.models]
    datasets = list(dict.fromkeys(d.abbr for _, cfg in configs for d in cfg.datasets))
    target = out or configs[0][0].summary_dir
    title = configs[0][1].name if len(configs) == 1 else " + ".join(f"{cfg.name} ({run.root.name})" for run, cfg in configs)
    text = write_report(title, columns, datasets, configs[0][1], target, formats, contamination)
    return text + f"\nsummary: {target}/summary.{{{','.join(formats)}}}"
