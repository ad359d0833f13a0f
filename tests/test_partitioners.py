"""Cost-based partitioning: a split run equals the unsplit one, dataset by dataset."""
from __future__ import annotations

import dataclasses

from compass.config import load_config
from compass.partitioners import PARTITIONERS

from helpers import compass, gsm8k_dataset, mmlu_dataset, predictions_of, result_of, scored_of, write_config


def _config(tmp_path, mini_data, tiny_model, name, **partitioner):
    return write_config(tmp_path / f"{name}.py", [dict(abbr="tiny", path=str(tiny_model), batch_size=4)],
                        [mmlu_dataset(mini_data["mmlu"]), gsm8k_dataset(mini_data["gsm8k"])],
                        infer=dict(partitioner=partitioner or dict(type="NaivePartitioner"),
                                   runner=dict(max_num_workers=2)))


def test_size_partitioner_shards_every_dataset_and_merges_to_the_unsplit_results(tmp_path, mini_data, tiny_model):
    naive = _config(tmp_path, mini_data, tiny_model, "naive")
    split = _config(tmp_path, mini_data, tiny_model, "split", type="SizePartitioner", max_task_size=300)
    tasks = PARTITIONERS["size"](load_config(split))
    for ds, n in (("mmlu-mini", 12), ("gsm8k-mini", 8)):
        shards = sorted((t.shards[ds] for t in tasks if ds in t.shards), key=lambda s: s.start)
        assert len(shards) >= 3, (ds, shards)  # the limit forces it
        assert shards[0].start == 0 and shards[-1].stop == n
        assert all(a.stop == b.start for a, b in zip(shards, shards[1:]))  # contiguous, no gap, no overlap
    assert all(t.cost is not None and t.cost <= 300 for t in tasks if len(t.datasets) > 1 or t.shards)
    plan = compass("run", str(split), "--dry-run", cwd=tmp_path)
    assert "cost" in plan.stdout and "mmlu-mini[0:" in plan.stdout

    for cfg in (naive, split):
        proc = compass("run", str(cfg), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    (a,) = list((tmp_path / "outputs" / "naive").iterdir())
    (b,) = list((tmp_path / "outputs" / "split").iterdir())
    assert not list((b / "predictions" / "tiny").glob("*.part-*"))  # shards merged, then removed
    for ds in ("mmlu-mini", "gsm8k-mini"):
        # Line order follows batching, batch_s is wall time, and other batches change log-probs by float
        # noise (1e-6): none of them is the prediction. Everything else is identical.
        pa = {p.id: p for p in predictions_of(a, "tiny", ds)}
        pb = {p.id: p for p in predictions_of(b, "tiny", ds)}
        assert pa.keys() == pb.keys()
        for i, p in pa.items():
            q = pb[i]
            assert dataclasses.replace(p, batch_s=None, choice_logprobs=None) == \
                dataclasses.replace(q, batch_s=None, choice_logprobs=None)
            assert all(abs(x - y) < 1e-4 for x, y in zip(p.choice_logprobs or [], q.choice_logprobs or []))
        assert (a / "scored" / "tiny" / f"{ds}.jsonl").read_bytes() == (b / "scored" / "tiny" / f"{ds}.jsonl").read_bytes()
        ra, rb = result_of(a, "tiny", ds), result_of(b, "tiny", ds)
        assert dataclasses.replace(ra, timing=rb.timing) == rb  # all but the times (model loads differ)
        assert len(scored_of(b, "tiny", ds)) == ra.n
    for name in ("summary.txt", "summary.csv", "summary.md"):
        assert (a / "summary" / name).read_text().replace("naive", "split") == (b / "summary" / name).read_text()


def test_num_worker_partitioner_gives_tasks_of_about_equal_cost(tmp_path, mini_data, tiny_model):
    cfg = load_config(_config(tmp_path, mini_data, tiny_model, "workers", type="NumWorkerPartitioner", num_worker=3))
    tasks = PARTITIONERS["num_worker"](cfg)
    assert len(tasks) == 3
    costs = [t.cost or 0 for t in tasks]
    assert max(costs) - min(costs) <= max(costs) * 0.6  # balanced to within a sample's granularity
