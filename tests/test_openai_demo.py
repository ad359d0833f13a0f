"""The demo, end to end through the API backend: ``compass run`` against a server that answers like
vLLM (offsets counted with the decoded BOS, tests/vllm_like_server.py) behind a proxy that injects
a fault into a seeded 30% of requests (tests/fault_proxy.py: 429 with Retry-After, 5xx, hangs
past the client's timeout, resets, truncated JSON, missing or empty ``choices``). Every sample's
prediction and every metric must equal ``compass run`` with the transformers backend on the same
model, and each injected fault must show up as one counted retry of its cause.

The full demo sets (mmlu-mini: 100 questions, gsm8k-mini: 40), the demo's own dataset configs."""
from __future__ import annotations

import json
import runpy
from collections import Counter
from pathlib import Path

import pytest

from fault_proxy import ALL_TRANSIENT, FaultProxy, seeded
from helpers import REPO, compass, write_config
from vllm_like_server import VLLMLikeServer

DEMO = REPO / "examples" / "assets" / "reference-demo"
# Every fault kind, hangs drawn a third as often as each other kind: a hang costs a whole client
# timeout, and the timeout has to be long enough that a busy machine's slow answers are not taken
# for hangs too.
FAULTS = tuple(kind for kind in ALL_TRANSIENT if kind != "hang") * 3 + ("hang",)
CAUSE = {"429": "429", "5xx": "5xx", "hang": "timeout", "reset": "connection", "truncated": "malformed",
         "no_choices": "malformed", "empty_choices": "malformed"}


def demo_datasets() -> list[dict]:
    """examples/eval_demo.py's datasets, with their paths made absolute (the run starts in tmp_path)."""
    out = []
    for file, name in [("datasets_cfg/mmlu/mmlu_mini_ppl.py", "mmlu_datasets"),
                       ("datasets_cfg/gsm8k/gsm8k_mini_gen.py", "gsm8k_datasets")]:
        out += [{**ds, "path": str(REPO / ds["path"])} for ds in runpy.run_path(str(REPO / file))[name]]
    return out


def finished_run(proc, root: Path) -> tuple[dict[str, dict], dict[str, dict[str, dict]]]:
    """(results by dataset, prediction rows by dataset and sample id) of the one run under ``root``."""
    assert proc.returncode == 0, proc.stderr
    (run,) = [p for p in root.iterdir() if p.is_dir()]
    results = {r["dataset"]: r for r in (json.loads(p.read_text()) for p in (run / "results").rglob("*.json"))}
    rows = {}
    for path in (run / "predictions").rglob("*.jsonl"):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rows[path.stem] = {row["id"]: row for row in lines}
    return results, rows


@pytest.mark.slow
def test_the_demo_through_a_faulty_vllm_like_server_equals_the_transformers_backend(tmp_path):
    datasets = demo_datasets()
    hf_model = {"abbr": "reference-demo", "type": "HuggingFaceCausalLM", "path": str(DEMO), "dtype": "float32",
                "max_out_len": 96, "max_seq_len": 1024, "batch_size": 16}
    # On the shared 2-core machine (load 3 to 9) the test took 3 to 7 minutes: generous limits.
    hf = compass("run", str(write_config(tmp_path / "hf.py", [hf_model], datasets)), cwd=tmp_path, timeout=600)
    hf_results, hf_rows = finished_run(hf, tmp_path / "outputs" / "hf")

    with VLLMLikeServer(str(DEMO), name="reference-demo") as server, \
            FaultProxy(server.url, seeded(rate=0.3, seed=20, kinds=FAULTS), hang_s=60.0, retry_after="1") as proxy:
        api_model = {"abbr": "reference-demo-api", "type": "OpenAI", "path": "reference-demo",
                     "api_base": proxy.url, "api_key_env": "COMPASS_TEST_NO_KEY", "chat": False,
                     "max_out_len": 96, "batch_size": 4, "api_timeout_s": 10.0, "api_retries": 8}
        api = compass("run", str(write_config(tmp_path / "api.py", [api_model], datasets)), cwd=tmp_path,
                      timeout=600)
        injected, attempts = Counter(proxy.injected), proxy.attempts
    api_results, api_rows = finished_run(api, tmp_path / "outputs" / "api")

    # The proxy did its part: about 30% of attempts, every kind of fault.
    assert set(injected) == set(ALL_TRANSIENT), injected
    assert 0.2 < sum(injected.values()) / attempts < 0.4

    # Same predictions, sample by sample; same metrics.
    assert set(api_rows) == set(hf_rows) == {"mmlu-mini", "gsm8k-mini"}
    for name, rows in hf_rows.items():
        assert api_rows[name].keys() == rows.keys()
        for sample_id, row in rows.items():
            got = api_rows[name][sample_id]
            assert got["prediction"] == row["prediction"], (name, sample_id)
            scores = "choice_logprobs" if "choice_logprobs" in row else "scores"
            if row.get(scores) is not None:
                assert got[scores] == pytest.approx(row[scores], abs=1e-4), (name, sample_id)
    for name, result in hf_results.items():
        assert api_results[name]["metrics"] == result["metrics"] and api_results[name]["ci95"] == result["ci95"]
    assert hf_results["mmlu-mini"]["metrics"]["accuracy"] == 0.40  # the demo's expected numbers
    assert hf_results["gsm8k-mini"]["metrics"]["accuracy"] == 0.35

    # Every injected fault was retried once and counted under its cause. A proxy that answered
    # itself (429, 5xx, reset) is exact; a slow upstream can only turn more attempts into timeouts.
    retries = sum((Counter(r.get("retries", {})) for r in api_results.values()), Counter())
    want: Counter[str] = Counter()
    for kind, n in injected.items():
        want[CAUSE[kind]] += n
    for cause in ("429", "5xx", "connection"):
        assert retries[cause] == want[cause], (retries, injected)
    assert retries["timeout"] >= want["timeout"] and retries["malformed"] <= want["malformed"]
    assert retries["timeout"] + retries["malformed"] >= want["timeout"] + want["malformed"]
    assert set(retries) <= set(CAUSE.values())
