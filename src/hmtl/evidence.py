"""Paired comparisons of every method with the hierarchical one: the evidence results.json and
the report give for "is the searched tree better than this cheaper choice?".

Endpoint (declared before looking): the difference in mean drop over the tasks measured in
fractions (accuracy, EER), method minus hierarchical, in the metric's unit; positive means the
method loses more than the searched tree. Secondary: the same over the tasks not at ceiling (the
independent models below 99 % accuracy, above 1 % EER), and each task alone. Pairs are the same
seed of both methods on the same test clips (a method trained on several trees, random_tree,
pairs each tree's seed s with the hierarchical seed s, and its trees at one seed count as one
unit: they share the hierarchical training they are paired with). Intervals and p-values come
from Student's t on a standard error of seeds and clips, Holm corrects over the compared methods
(utils/stats.py). With several data splits the pairs are (split, seed), each one value
per task (the splits' different test clips carry the clip noise), and the unit of the interval
is the split: a split's seeds share its training and test clips, so they are not independent
samples of what another split gives; their mean is one value and Student's t runs over the
splits (splits − 1 degrees of freedom, so a difference needs 4-5 splits to be shown)."""

from __future__ import annotations

import numpy as np

from .metrics import drop, metric_spec, per_clip_values, primary_metric
from .records import MethodResult, TrainRecord
from .utils.stats import Comparison, compare_paired, holm

REFERENCE = "hierarchical"
CEILING = 0.99                    # a task the independent models get 99 % right is at ceiling

_ENDPOINT = ("difference in mean drop over the tasks measured in fractions (accuracy, EER), "
             "method minus hierarchical: positive = the method loses more; {paired}; its "
             "p-value, Holm-corrected over the methods compared")
ENDPOINT = _ENDPOINT.format(paired="paired by seed and test clip; 95 % interval over seeds and "
                                   "clips (Student's t)")
ENDPOINT_SPLITS = _ENDPOINT.format(paired="paired by split and seed; 95 % interval over the "
                                          "splits, each split's seeds averaged (Student's t)")


def unit(record: TrainRecord) -> tuple[int, int]:
    """What pairs two trainings: the same split (data.splits) and the same seed."""
    return record.extra.get("split", 0), record.seed


def several_splits(reference: MethodResult) -> bool:
    """Whether the reference's trainings come from several splits (data.splits): then the split,
    not the seed, is the unit of every comparison with it."""
    return len({unit(r)[0] for recs in reference.records.values() for r in recs}) > 1


def task_diffs(method: MethodResult, reference: MethodResult, task: str, several: bool = False
               ) -> tuple[np.ndarray, list] | None:
    """(pairs × clips) per-clip drops of `method` against `reference` on one task, or
    (pairs × 1) task-level drops when the metric is not a mean over clips (EER); with each row's
    unit, its (split, seed). Over several splits (whose test clips differ: the splits carry the
    clip noise): one task-level drop per (split, seed), its trainings averaged (the random
    trees of one seed), labelled with its split, whose seeds stats.unit_means averages."""
    ours = {unit(r): r for r in reference.records.get(task, [])}
    pairs = [(ours[unit(r)], r) for r in method.records.get(task, []) if unit(r) in ours]
    if not pairs:
        return None
    metric = primary_metric(pairs[0][0].test[task])
    if several:
        drops: dict[tuple[int, int], list[float]] = {}
        for ref, rec in pairs:
            drops.setdefault(unit(rec), []).append(
                drop(_value(ref, task), _value(rec, task), metric))
        return (np.array([[float(np.mean(v))] for v in drops.values()]),
                [split for split, _ in drops])
    rows = []
    for ref, rec in pairs:
        a, b = per_clip_values(ref.test[task]), per_clip_values(rec.test[task])
        if a is not None and b is not None and len(a) == len(b) and a:
            rows.append([drop(x, y, metric) for x, y in zip(a, b)])
        else:
            rows.append([drop(_value(ref, task), _value(rec, task), metric)])
    return np.array(rows, dtype=float), [unit(r) for _, r in pairs]


def _value(record: TrainRecord, task: str) -> float:
    return record.value(task, "test")


def at_ceiling(independent: MethodResult, task: str) -> bool:
    m = independent.metrics[task]
    name = m.get("primary") or primary_metric(m)
    spec = metric_spec(name)
    if not spec.fraction:
        return False
    return m[name] >= CEILING if spec.higher_is_better else m[name] <= 1 - CEILING


def compare_methods(methods: dict[str, MethodResult], tasks: list[str]) -> dict | None:
    """results.json's "comparisons": each method against the hierarchical one."""
    reference = methods.get(REFERENCE)
    if reference is None or not reference.records:
        return None
    pooled = [t for t in tasks
              if metric_spec(primary_metric(reference.metrics[t])).fraction]
    independent = methods.get("independent")
    open_tasks = [t for t in pooled if independent is None or not at_ceiling(independent, t)]
    several = several_splits(reference)
    out: dict[str, dict] = {}
    for name, method in methods.items():
        if name == REFERENCE or not method.records:
            continue
        found = {t: task_diffs(method, reference, t, several) for t in tasks}
        if any(found[t] is None for t in pooled):
            continue
        diffs = {t: f[0] for t, f in found.items() if f is not None}
        groups = {t: f[1] for t, f in found.items() if f is not None}

        def paired(ts: list[str]) -> Comparison:
            return compare_paired([diffs[t] for t in ts], [groups[t] for t in ts])

        entry = {"mean_drop": paired(pooled) if pooled else None,
                 "mean_drop_not_at_ceiling": (paired(open_tasks)
                                              if open_tasks and open_tasks != pooled else None),
                 "per_task": {t: paired([t]) for t in diffs}}
        out[name] = entry
    primary = [name for name in out if out[name]["mean_drop"] is not None]
    adjusted = holm([out[n]["mean_drop"].p for n in primary]) if primary else []
    for name, p in zip(primary, adjusted):
        c = out[name]["mean_drop"]
        out[name]["mean_drop"] = Comparison(c.estimate, c.low, c.high, c.p, c.units, c.clips, p)
    return {"reference": REFERENCE, "endpoint": ENDPOINT_SPLITS if several else ENDPOINT,
            "tasks": pooled,
            "not_at_ceiling": open_tasks,
            "methods": {name: {k: (v.to_json() if isinstance(v, Comparison) else
                                   {t: c.to_json() for t, c in v.items()} if isinstance(v, dict)
                                   else None) for k, v in entry.items()}
                        for name, entry in out.items()}}


def verdict(c: dict) -> str:
    """A comparison in words: "worse", "better" or "no difference shown"."""
    if not c.get("shown"):
        return "no difference shown"
    return "worse" if c["estimate"] > 0 else "better"
