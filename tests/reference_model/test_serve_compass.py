"""The suite against ``refmodel serve``: ``compass run`` over the API gives, sample by sample, the
transformers backend's greedy predictions (GSM8K-format mini set) and chosen answers with their
log-likelihoods (MMLU-format mini set, echo + logprobs) on the demo checkpoint; and a fault-injecting
proxy in front of the server (429 with Retry-After, 5xx, hangs, resets, truncated and malformed
JSON on ~30% of attempts) leaves the results identical to a clean run's, each fault counted as a
retry of its cause. Real processes throughout: the server, the proxy, and ``compass run``."""
from __future__ import annotations

from collections import Counter

import pytest
from refmodel_helpers import REPO, Server
from test_openai_demo import CAUSE, FAULTS, demo_datasets, finished_run

from fault_proxy import ALL_TRANSIENT, FaultProxy, seeded
from helpers import compass, write_config

DEMO = REPO / "examples" / "assets" / "reference-demo"


def _same(got: dict, want: dict) -> None:
    """Same samples, predictions, log-likelihoods (1e-4) and metrics in two runs."""
    results, rows = got
    want_results, want_rows = want
    assert set(rows) == set(want_rows) == {"mmlu-mini", "gsm8k-mini"}
    for name, by_id in want_rows.items():
        assert rows[name].keys() == by_id.keys()
        for sample_id, row in by_id.items():
            assert rows[name][sample_id]["prediction"] == row["prediction"], (name, sample_id)
            if row.get("choice_logprobs") is not None:
                assert rows[name][sample_id]["choice_logprobs"] == pytest.approx(row["choice_logprobs"], abs=1e-4)
    for name, result in want_results.items():
        assert results[name]["metrics"] == result["metrics"] and results[name]["ci95"] == result["ci95"]


@pytest.mark.slow
def test_compass_over_refmodel_serve_equals_transformers_clean_and_through_faults(tmp_path):
    datasets = demo_datasets()
    hf_model = {"abbr": "reference-demo", "type": "HuggingFaceCausalLM", "path": str(DEMO), "dtype": "float32",
                "max_out_len": 96, "max_seq_len": 1024, "batch_size": 16}
    hf = compass("run", str(write_config(tmp_path / "hf.py", [hf_model], datasets)), cwd=tmp_path, timeout=900)
    want = finished_run(hf, tmp_path / "outputs" / "hf")
    assert want[0]["mmlu-mini"]["metrics"]["accuracy"] == 0.40 and want[0]["gsm8k-mini"]["metrics"]["accuracy"] == 0.35

    api_model = {"type": "OpenAI", "path": "reference-demo", "api_key_env": "COMPASS_TEST_NO_KEY", "chat": False,
                 "max_out_len": 96, "batch_size": 8, "api_timeout_s": 20.0, "api_retries": 8}
    with Server(DEMO, "--max-model-len", "1024", name="reference-demo") as server:
        clean_cfg = write_config(tmp_path / "clean.py", [{**api_model, "abbr": "demo-api", "api_base": server.url}],
                                 datasets)
        clean = finished_run(compass("run", str(clean_cfg), cwd=tmp_path, timeout=900), tmp_path / "outputs" / "clean")
        _same(clean, want)
        assert all(not r.get("retries") for r in clean[0].values())
        served = server.metrics()
        # The 5-shot prompts share their prefix: the prefix cache served part of the prompt tokens.
        assert served["refmodel:prompt_tokens_cached_total"] > 0.3 * served["refmodel:prompt_tokens_total"]

        with FaultProxy(server.url, seeded(rate=0.3, seed=20, kinds=FAULTS), hang_s=60.0, retry_after="1") as proxy:
            faulty_cfg = write_config(tmp_path / "faulty.py",
                                      [{**api_model, "abbr": "demo-api", "api_base": proxy.url}], datasets)
            faulty_proc = compass("run", str(faulty_cfg), cwd=tmp_path, timeout=900)
            injected, attempts = Counter(proxy.injected), proxy.attempts
        faulty = finished_run(faulty_proc, tmp_path / "outputs" / "faulty")
        assert server.metrics()["refmodel:kv_cache_blocks_used"] == 0  # hung and reset requests were aborted
    _same(faulty, want)
    assert set(injected) == set(ALL_TRANSIENT), injected
    assert 0.2 < sum(injected.values()) / attempts < 0.4
    retries = sum((Counter(r.get("retries", {})) for r in faulty[0].values()), Counter())
    wanted: Counter[str] = Counter()
    for kind, n in injected.items():
        wanted[CAUSE[kind]] += n
    for cause in ("429", "5xx", "connection"):
        assert retries[cause] == wanted[cause], (retries, injected)
    assert retries["timeout"] + retries["malformed"] >= wanted["timeout"] + wanted["malformed"]
    assert sum(retries.values()) >= sum(injected.values())
