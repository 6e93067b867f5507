"""Train/val/test assignment: the manifest's own `split` column when present, otherwise a
seeded stratified split, or a group-disjoint one (e.g. by speaker). A run computes it once and
stores it, so every model of the run sees exactly the same clips."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..config import DataConfig
from ..errors import HmtlError
from .manifest import SPLITS, Manifest

TRAIN, VAL, TEST = 0, 1, 2


def _quota(n: int, ratios: list[float]) -> list[int]:
    """Split n items by ratios, val and test rounded, train the rest (train keeps tiny strata)."""
    n_val = int(round(n * ratios[1]))
    n_test = int(round(n * ratios[2]))
    if n_val + n_test >= n:  # 1 or 2 clips: keep them for training
        return [n, 0, 0]
    return [n - n_val - n_test, n_val, n_test]


def stratified_split(strata: list, ratios: list[float], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(len(strata), dtype=np.int8)
    by_stratum: dict = defaultdict(list)
    for i, s in enumerate(strata):
        by_stratum[s].append(i)
    for s in sorted(by_stratum, key=str):
        idx = np.array(by_stratum[s])
        rng.shuffle(idx)
        q = _quota(len(idx), ratios)
        out[idx[:q[0]]] = TRAIN
        out[idx[q[0]:q[0] + q[1]]] = VAL
        out[idx[q[0] + q[1]:]] = TEST
    return out


def group_split(groups: list, ratios: list[float], seed: int, strata: list | None = None) -> np.ndarray:
    """Whole groups go to one split; groups are dealt in random order to the split that is
    furthest below its target clip count. With strata (a label per clip, e.g. gender), each
    group counts under its most common label and every stratum is dealt separately, so that
    every split gets groups of every stratum where there are enough."""
    rng = np.random.default_rng(seed)
    members: dict = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    names = sorted(members, key=str)
    rng.shuffle(names)
    if strata is None:
        layers = [names]
    else:
        def label(g):
            values = [strata[i] for i in members[g] if strata[i] is not None]
            return max(sorted(set(values), key=str), key=values.count) if values else None
        by_label: dict = defaultdict(list)
        for g in names:
            by_label[label(g)].append(g)
        layers = [by_label[k] for k in sorted(by_label, key=str)]
    out = np.empty(len(groups), dtype=np.int8)
    for layer in layers:
        total = sum(len(members[g]) for g in layer)
        target = np.array(ratios) * total
        count = np.zeros(3)
        for g in layer:
            k = int(np.argmax((target - count) / np.maximum(target, 1e-9)))
            out[members[g]] = k
            count[k] += len(members[g])
    return out


def make_split(m: Manifest, cfg: DataConfig) -> np.ndarray:
    """Split index per row (0 train, 1 val, 2 test)."""
    if m.split is not None:
        out = np.array([SPLITS.index(s) for s in m.split], dtype=np.int8)
    elif cfg.split_by == "group":
        if m.group is None:
            raise HmtlError(f"{m.source}: data.split_by=group needs a 'group' column")
        missing = [i for i, g in enumerate(m.group) if g is None]
        if missing:
            raise HmtlError(f"{m.where(missing[0])}: empty group cell (split_by=group)")
        if len(set(m.group)) < 3:
            raise HmtlError(f"{m.source}: split_by=group needs at least 3 groups, "
                            f"found {len(set(m.group))}")
        strata = m.labels[cfg.stratify_by] if cfg.stratify_by else None
        out = group_split(m.group, cfg.split_ratios, cfg.split_seed, strata)
    else:
        # numbers (regression) do not stratify: take the first task with classes
        task = cfg.stratify_by or next((t.name for t in cfg.tasks if t.type != "regression"), None)
        strata = m.labels[task] if task else [None] * len(m)
        out = stratified_split(strata, cfg.split_ratios, cfg.split_seed)
    for k, name in enumerate(SPLITS):
        if not (out == k).any():
            raise HmtlError(f"{m.source}: the {name} split is empty ({len(m)} clips); "
                            f"add clips or change data.split_ratios")
    for t, labels in m.labels.items():
        for k, name in enumerate(SPLITS[:2]):
            if not any(lab is not None for lab, s in zip(labels, out) if s == k):
                raise HmtlError(f"{m.source}: task '{t}' has no labelled clip in the {name} split")
    return out
