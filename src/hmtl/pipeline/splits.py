"""Repeated splits (data.splits = N): the whole method, stages 1-3 and every compared method,
runs once per split of the clips into train/val/test (data.split_seed, +1, …), each in its own
run folder OUT/split-i, resumable like any run. OUT/results.json combines them: each method's
metrics over splits × seeds, and its comparison with the hierarchical model, paired by (split,
seed) with the split as the unit (evidence.py); each budget's trees and baselines likewise. One
split is one sample of the clips; the spread over splits is what a user's next recording session
will see, and what one fixed split leaves out."""

from __future__ import annotations

import csv
import dataclasses
import time
from pathlib import Path

from ..config import RunConfig, dump_config
from ..errors import HmtlError
from ..executors import Executor, RunHandle
from ..records import MethodResult
from ..evidence import REFERENCE
from ..results import aggregate, build_results, compare, write_results
from ..utils.io import atomic_write_text
from ..utils.progress import say
from .run import (RunOutcome, compared_at_budget, keep_deployment_figures, run_one,
                  write_report_safely)


def split_config(cfg: RunConfig, i: int) -> RunConfig:
    data = dataclasses.replace(cfg.data, split_seed=cfg.data.split_seed + i, splits=1)
    return dataclasses.replace(cfg, data=data)


def check_splittable(cfg: RunConfig) -> None:
    with open(cfg.data.manifest, newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), [])
    if "split" in header:
        raise HmtlError(f"data.splits={cfg.data.splits}: {cfg.data.manifest} has a split column, "
                        f"which fixes one split; drop it (hmtl prepare merge --drop split) or set "
                        f"data.splits: 1")


def run_splits(cfg: RunConfig, out: Path, runner: Executor, until: str, verbose: bool) -> dict:
    check_splittable(cfg)
    started = time.perf_counter()
    root = RunHandle(out)
    with root.lock():
        outcomes = []
        for i in range(cfg.data.splits):
            say(f"split {i + 1}/{cfg.data.splits} (data.split_seed={cfg.data.split_seed + i})")
            outcomes.append(run_one(split_config(cfg, i), RunHandle(out / f"split-{i}"), runner,
                                    until, verbose))
        results = combine(cfg, outcomes, time.perf_counter() - started, runner)
        atomic_write_text(out / "config.yaml", dump_config(cfg))
        keep_deployment_figures(out / "results.json", results)
        write_results(out, results)
        write_report_safely(out)
    return results


def pool_splits(parts: list[MethodResult], tasks: list[str]) -> MethodResult:
    """One method over several splits: its trainings pooled (each tagged with its split, which
    pairs it in comparisons), its metrics over splits × seeds, sizes the mean when the splits'
    trees differ (each split's own in details)."""
    records: dict[str, list] = {t: [] for t in tasks}
    ids = []
    for i, part in enumerate(parts):
        for t in tasks:
            for r in part.records.get(t, []):
                r.extra["split"] = i
                records[t].append(r)
        ids += [{"split": i, "seed": r.seed} for r in part.records.get(tasks[0], [])]
    metrics = {t: aggregate(records[t], [t])[t] for t in tasks if records[t]}
    same = all(p.tree == parts[0].tree and p.params == parts[0].params
               and p.nonzero_params == parts[0].nonzero_params for p in parts)

    def mean(values):
        return round(sum(values) / len(values))

    return MethodResult(
        params=parts[0].params if same else mean([p.params for p in parts]),
        nonzero_params=parts[0].nonzero_params if same else mean([p.nonzero_params for p in parts]),
        macs=parts[0].macs if same else mean([p.macs for p in parts]),
        metrics=metrics, primary=parts[0].primary,
        per_seed=[s for p in parts for s in p.per_seed],
        tree=parts[0].tree if same else None,
        details={"per_seed_ids": ids,
                 "splits": [{"split": i, "params": p.params, "nonzero_params": p.nonzero_params,
                             "macs": p.macs, "tree": p.tree} for i, p in enumerate(parts)]},
        records=records)


def pool_budgets(outcomes: list[RunOutcome], independent: MethodResult | None,
                 tasks: list[str]) -> tuple[list[dict], list[str]]:
    """search.budgets over several splits: each split chose and trained its own tree for a budget
    (and its size-matched baselines); a budget's methods are pooled over the splits and compared
    with its trees, paired by (split, seed), as the hierarchical tree is. A budget or baseline
    counts only where every split has it; what is left out is said in the notes returned."""
    rows, notes = [], []
    fractions = list(dict.fromkeys(b["fraction"] for o in outcomes
                                   for b in o.results.get("budgets") or []))
    for fraction in fractions:
        found = [next(((b, here) for b, here in zip(o.results.get("budgets") or [], o.budgets)
                       if b["fraction"] == fraction), None) for o in outcomes]
        if None in found:
            notes.append(f"budget {fraction:g}: not in split(s) "
                         f"{[i for i, f in enumerate(found) if f is None]}, left out of the "
                         f"combined results")
            continue
        names = [n for n in found[0][1] if all(n in here for _, here in found)]
        lost = sorted({n for _, here in found for n in here} - set(names))
        if lost:
            notes.append(f"budget {fraction:g}: {lost} not trained in every split, left out")
        here = {n: pool_splits([h[n] for _, h in found], tasks) for n in names}
        tree = here[REFERENCE]
        if independent is not None:
            tree.vs_independent = compare(tree, independent, tasks)
        splits = [{"split": i, "params": b["params"], "macs": b["macs"], "tree": b["tree"],
                   "predicted_drop": b["predicted_drop"], "search": b["search"]}
                  for i, (b, _) in enumerate(found)]
        rows.append({"budget": found[0][0]["budget"], "fraction": fraction,
                     "params": tree.params, "macs": tree.macs, "tree": tree.tree,
                     "predicted_drop": round(sum(s["predicted_drop"] for s in splits)
                                             / len(splits), 6),
                     "predicted_task_drops": {t: round(sum(b["predicted_task_drops"][t]
                                                           for b, _ in found) / len(found), 6)
                                              for t in found[0][0]["predicted_task_drops"]},
                     "search": f"each of the {len(splits)} splits chose its own tree (see \"splits\")",
                     "method": tree.to_json(), "splits": splits,
                     **compared_at_budget(here, independent, tasks)})
    return rows, notes


def combine(cfg: RunConfig, outcomes: list[RunOutcome], seconds: float,
            runner: Executor) -> dict:
    tasks = cfg.task_names
    first = outcomes[0].results
    names = [n for n in outcomes[0].methods if all(n in o.methods for o in outcomes)]
    methods = {n: pool_splits([o.methods[n] for o in outcomes], tasks) for n in names}
    budgets, left_out = pool_budgets(outcomes, methods.get("independent"), tasks)
    searches = [o.results["search"] for o in outcomes]
    search = {**searches[0], "trainings": sum(s["trainings"] for s in searches),
              "skipped": sum(s.get("skipped", 0) for s in searches),
              "seconds": round(sum(s["seconds"] for s in searches), 1)}
    splits = [{"split": i, "folder": f"split-{i}", "split_seed": cfg.data.split_seed + i,
               "tree": r["hierarchy"]["tree"],
               "depths": {"+".join(c["tasks"]): c["depth"] for c in r["compatibility"]}}
              for i, r in enumerate(o.results for o in outcomes)]
    same_tree = sum(s["tree"] == splits[0]["tree"] for s in splits)
    return build_results(
        tasks, first["seeds"], methods, first["compatibility"], search,
        extra={**({"budgets": budgets} if budgets else {}),
               "splits": splits,
               "hierarchy": {**first["hierarchy"],
                             "notes": first["hierarchy"]["notes"] + [
                                 f"{len(splits)} splits: each searched its own tree (split 0's "
                                 f"is shown); {same_tree} of {len(splits)} found split 0's tree"]
                             + left_out},
               "run": {"wall_seconds": round(seconds, 1), "executor": runner.name,
                       "trained_now": runner.trained, "reused": runner.reused,
                       "threads_per_training": sorted(runner.threads_seen)}})
