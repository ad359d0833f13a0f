"""OpenCompass side of ``bench/prompts_vs_peers.py``; runs in OpenCompass's own venv.

    python opencompass_prompts.py OUT.json MODEL_DIR mmlu:DATA_DIR:SUBJECT,... [gsm8k:DATA_DIR] [--limit N]

Takes OpenCompass's own default dataset configs (``mmlu_ppl.py``, ``gsm8k_gen.py``, as installed),
points them at local data and runs them through OpenCompass's own inference task with its
``HuggingFaceBaseModel`` on a tiny local model, then writes the prompts it recorded per sample:
``{"mmlu": {"<subject>/<i>": [prompt of label A, .. D]}, "gsm8k": {"<i>": [prompt]}}``.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import opencompass
from mmengine.config import Config, ConfigDict
from opencompass.models import HuggingFaceBaseModel
from opencompass.tasks import OpenICLInferTask

CONFIGS = Path(opencompass.__file__).parent / "configs" / "datasets"


def datasets(specs: list[str], limit: int | None) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for spec in specs:
        family, path, *rest = spec.split(":")
        if family == "mmlu":
            subjects = rest[0].split(",")
            cfgs = [d for d in Config.fromfile(CONFIGS / "mmlu" / "mmlu_ppl.py").mmlu_datasets if d["name"] in subjects]
        else:
            cfgs = list(Config.fromfile(CONFIGS / "gsm8k" / "gsm8k_gen.py").gsm8k_datasets)
            for d in cfgs:
                d["infer_cfg"]["inferencer"]["max_out_len"] = 1  # the prompt is what is compared
        for d in cfgs:
            d["path"] = path
            if limit is not None:
                d["reader_cfg"]["test_range"] = f"[0:{limit}]"
        out[family] = cfgs
    return out


def main(argv: list[str]) -> int:
    limit = int(argv[argv.index("--limit") + 1]) if "--limit" in argv else None
    argv = [a for i, a in enumerate(argv) if a != "--limit" and (i == 0 or argv[i - 1] != "--limit")]
    out_file, model_dir, specs = Path(argv[0]), argv[1], argv[2:]
    model = dict(type=HuggingFaceBaseModel, abbr="tiny", path=model_dir, max_out_len=1, batch_size=8,
                 run_cfg=dict(num_gpus=0))
    work = Path(tempfile.mkdtemp(prefix="oc-prompts-"))
    found: dict[str, dict[str, list[str]]] = {}
    for family, cfgs in datasets(specs, limit).items():
        OpenICLInferTask(ConfigDict(models=[model], datasets=[cfgs], work_dir=str(work))).run()
        for d in cfgs:
            result = json.loads((work / "predictions" / "tiny" / f"{d['abbr']}.json").read_text(encoding="utf-8"))
            for index, row in result.items():
                if family == "mmlu":
                    key = f"{d['name']}/{index}"
                    found.setdefault(family, {})[key] = [row[f"label: {x}"]["prompt"] for x in "ABCD"]
                else:
                    found.setdefault(family, {})[index] = [row["origin_prompt"]]
    out_file.write_text(json.dumps(found, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
