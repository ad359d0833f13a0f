"""datatrove's n-gram decontamination on the planted corpus of bench/contamination_planted.py.

Run by that script with the Python of a virtual environment holding datatrove (``pip install
datatrove spacy "xxhash<4" regex``); reads ITEMS_JSON (benchmark items: id, query, label) and the
corpus, writes OUT_JSON. Each benchmark item is its own datatrove "task", so the task a filtered
document names is the item it contains.

``NGramsDecontIndexer`` refuses to start without ``lighteval`` (its ``run`` imports it to load
lighteval tasks even when the items come as documents) and lighteval is not installed here, so
the index is built the way ``run`` builds it from documents: the indexer's own ``compute_hashes``
(datatrove's normalisation, spaCy word tokenizer, xxhash) per item, saved as ``<task>.index.hashes``
uint64 arrays. ``NGramsDecontFilter`` then runs unchanged over every corpus document.

    python bench/contamination_datatrove_side.py ITEMS_JSON CORPUS_JSONL OUT_JSON
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter, NGramsDecontIndexer
from datatrove.utils.hashing import create_hash_func
from datatrove.utils.word_tokenizers import load_word_tokenizer

CONFIGS = {
    "datatrove defaults (12-grams of the answer and answer/question overlap)": NGramsDecontConfig(),
    "datatrove, question 12-grams too": NGramsDecontConfig(find_query_ngrams=True),
    "datatrove, question 8-grams too": NGramsDecontConfig(n_grams=8, find_query_ngrams=True),
}


def indexer(config: NGramsDecontConfig) -> NGramsDecontIndexer:
    """An indexer without PipelineStep.__new__'s lighteval check; the attributes its __init__ sets."""
    step = object.__new__(NGramsDecontIndexer)
    step.config = config
    step.tokenizer = load_word_tokenizer("en")
    step.hash_func = create_hash_func(config.hash_config)
    return step


def main() -> None:
    items = json.loads(Path(sys.argv[1]).read_text())
    docs = [json.loads(line) for line in Path(sys.argv[2]).read_text().splitlines()]
    results = {}
    for name, config in CONFIGS.items():
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            step = indexer(config)
            empty = 0
            for item in items:
                hashes = set(step.compute_hashes(item["label"], item["query"]))
                empty += not hashes
                array = np.array(sorted(hashes), dtype=config.hash_config.np_descr)
                (Path(folder) / f"{item['key']}.index.hashes").write_bytes(array.tobytes())
            index_s = time.perf_counter() - started
            decont = NGramsDecontFilter(index_folder=folder, config=config)
            started = time.perf_counter()
            flagged: dict[str, str] = {}
            for doc in docs:
                document = Document(text=doc["text"], id=doc["id"])
                if decont.filter(document) is not True:
                    flagged[doc["id"]] = document.metadata["contaminated_task"]
            filter_s = time.perf_counter() - started
        results[name] = {"index_s": round(index_s, 2), "filter_s": round(filter_s, 2), "flagged_docs": flagged,
                         "items_without_ngrams": empty}
    Path(sys.argv[3]).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
