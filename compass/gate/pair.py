"""Reading one dataset's per-sample outcomes (its scored file, through ``compass.records``) and
matching the two runs' samples by id.

Clusters come only from the ``cluster`` key, which says which samples are not independent (e.g.
questions about one passage). ``group`` is a stratum (an MMLU subject) and is ignored here: strata
are fixed, not sampled, so treating them as clusters only throws power away.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compass import records
from compass.errors import CompassError
from compass.gate.report import Kind


@dataclass(frozen=True)
class Outcomes:
    """One run's outcomes on one dataset, in file order."""

    path: Path
    kind: Kind
    evaluator: str
    ids: list[str]
    values: np.ndarray
    clusters: list[str | None]


def read_outcomes(path: Path, result: Path) -> Outcomes:
    """The scored rows of ``path``; ``result`` (the dataset's result file), when present, must count
    as many samples, so a stale or partial scored file is refused rather than compared."""
    rows = records.read_lines(path, records.Scored)
    if not rows:
        raise CompassError(f"{path}: no samples")
    kinds = {"binary" if r.correct is not None else "continuous" for r in rows}
    if len(kinds) > 1:
        raise CompassError(f"{path}: mixes 'correct' and 'score' outcomes in one file")
    evaluators = sorted({r.evaluator for r in rows})
    if len(evaluators) > 1:
        raise CompassError(f"{path}: rows scored by several evaluators ({', '.join(evaluators)})")
    duplicate = next((i for i, count in Counter(r.id for r in rows).items() if count > 1), None)
    if duplicate is not None:
        raise CompassError(f"{path}: duplicate id {duplicate!r}")
    if result.exists():
        n = records.read_record(result, records.Result).n
        if n != len(rows):
            raise CompassError(f"{path}: holds {len(rows)} samples but {result} says n = {n}: the files are from "
                               f"different evaluations; re-run evaluation (-m eval)")
    kind: Kind = "binary" if kinds == {"binary"} else "continuous"
    return Outcomes(path, kind, evaluators[0], [r.id for r in rows], np.array([r.value for r in rows], dtype=float),
                    [r.cluster for r in rows])


@dataclass(frozen=True)
class Paired:
    """Matched outcomes of one dataset, sorted by id so that results do not depend on file order."""

    dataset: str
    kind: Kind
    evaluator: str
    base: np.ndarray
    cand: np.ndarray
    clusters: np.ndarray | None  # integer cluster code per sample; None when no sample declares a cluster
    n_clusters: int | None
    ids: tuple[str, ...] = ()  # the sample ids, in the order above


def pair(dataset: str, base: Outcomes, cand: Outcomes) -> Paired:
    only_base = set(base.ids) - set(cand.ids)
    only_cand = set(cand.ids) - set(base.ids)
    if only_base or only_cand:
        example = min(only_base or only_cand)
        raise CompassError(
            f"dataset {dataset!r}: sample ids differ: {len(only_base)} id(s) only in baseline, "
            f"{len(only_cand)} only in candidate (e.g. {example!r}); compare runs of the same dataset")
    if base.kind != cand.kind:
        raise CompassError(f"dataset {dataset!r}: baseline has {base.kind} outcomes but candidate has {cand.kind} ones")
    if base.evaluator != cand.evaluator:
        raise CompassError(f"dataset {dataset!r}: baseline was scored by {base.evaluator!r} and candidate by "
                           f"{cand.evaluator!r}; re-score one run (-m eval) so that both use the same evaluator")
    order = sorted(range(len(base.ids)), key=base.ids.__getitem__)
    cand_pos = {sid: i for i, sid in enumerate(cand.ids)}
    cand_order = [cand_pos[base.ids[i]] for i in order]
    clusters, n_clusters = _cluster_codes(dataset, base, cand, order, cand_order)
    return Paired(dataset, base.kind, base.evaluator, base.values[order], cand.values[cand_order], clusters, n_clusters,
                  tuple(base.ids[i] for i in order))


def restrict(paired: Paired, keep: np.ndarray) -> Paired:
    """The pair with only the samples where ``keep`` (a boolean mask) holds; clusters renumbered."""
    clusters, n_clusters = paired.clusters, paired.n_clusters
    if clusters is not None:
        uniques, clusters = np.unique(clusters[keep], return_inverse=True)
        n_clusters = int(uniques.size)
    return Paired(paired.dataset, paired.kind, paired.evaluator, paired.base[keep], paired.cand[keep], clusters,
                  n_clusters, tuple(sid for sid, k in zip(paired.ids, keep) if k))


def _cluster_codes(dataset: str, base: Outcomes, cand: Outcomes, order: list[int],
                   cand_order: list[int]) -> tuple[np.ndarray | None, int | None]:
    """One integer per sample naming its cluster; a sample that declares none is a cluster of its own.
    A run that declares no clusters takes the other's (clusters describe the data, not the run)."""
    if all(c is None for c in base.clusters) and all(c is None for c in cand.clusters):
        return None, None
    codes: dict[tuple[bool, str], int] = {}
    labels, conflicts = [], 0
    for i, j in zip(order, cand_order):
        cb, cc = base.clusters[i], cand.clusters[j]
        conflicts += cb is not None and cc is not None and cb != cc
        label = cb if cb is not None else cc
        # (declared, name): a lone sample's own cluster never merges with a declared cluster of that name
        key = (True, label) if label is not None else (False, base.ids[i])
        labels.append(codes.setdefault(key, len(codes)))
    if conflicts:
        raise CompassError(f"dataset {dataset!r}: 'cluster' differs between the runs for {conflicts} sample(s)")
    return np.asarray(labels, dtype=np.intp), len(codes)
