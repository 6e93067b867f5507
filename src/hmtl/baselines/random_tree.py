"""`random_tree`: what the synergy analysis is worth over sharing blocks at random.

The null distribution: every distinct nested tree with the searched tree's exact group count at
each depth (so exactly its params and MACs), or `baselines.random_draws` of them drawn without
repetition when there are more, never the searched tree itself. Each is trained with every seed.
The entry reports each tree's results, the searched tree's percentile rank among them, and the
share of random trees at least as good as the searched one with its 95 % interval; its metrics
pool all trees × seeds. The draw is seeded by the run's dataset and the searched tree, so a rerun
draws (and resumes) the same trees, while another corpus draws others.

When no other tree has those group counts (e.g. the searched tree is flat), or
baselines.target_params asks for another size, the trees come from the group-count sequences
within TOLERANCE of the target params instead, else from the closest other size (not exactly
equal in size; the entry says so)."""

from __future__ import annotations

import random

import numpy as np
from scipy import stats

from ..metrics import drop, metric_spec
from ..models import TreeSpec
from ..records import MethodResult
from ..results import compare, independent_method, pooled_method, tree_method
from ..search.context import Context
from ..search.draws import counts_of, null_trees
from ..search.methods import SearchState, register_method
from ..utils.io import stable_hash
from .common import counts_params, group_counts, target_params

TOLERANCE = 0.03


def count_choices(tasks: int, blocks: list[int], heads: int, target: int,
                  skip: tuple[int, ...] | None = None) -> list[tuple[int, ...]]:
    """Group-count sequences within the tolerance of the target, else the closest ones; never
    `skip` (the counts of a tree that is the only one of its size, e.g. flat)."""
    all_counts = [c for c in group_counts(tasks, len(blocks)) if c != skip]
    gap = {c: abs(counts_params(c, blocks, heads) - target) for c in all_counts}
    near = [c for c in all_counts if gap[c] <= TOLERANCE * target]
    return near or [c for c in all_counts if gap[c] == min(gap.values())]


def draw_trees(tasks: list[str], blocks: list[int], heads: int, target: int,
               draws: int, seed: int = 0) -> list[TreeSpec]:
    """Trees of about `target` params (no tree excluded): the fallback of the null."""
    rng = random.Random(seed)
    return null_trees(tasks, count_choices(len(tasks), blocks, heads, target), None, draws, rng)[0]


def structure_matters(per_tree: list[list[float]]) -> dict:
    """Do trees of this size differ from one another beyond the seeds' noise? One-way ANOVA of
    the per-seed mean drops, trees as groups (scipy.stats.f_oneway): the spread between trees
    against the spread between seeds of one tree. Needs two seeds and two trees."""
    spread = float(np.std([np.mean(t) for t in per_tree], ddof=1)) if len(per_tree) > 1 else 0.0
    if len(per_tree) < 2 or min(len(t) for t in per_tree) < 2:
        return {"spread": round(spread, 6), "p": None, "matters": None,
                "note": "one seed (or one tree): no noise to weigh the spread against"}
    within = float(np.sqrt(np.mean([np.var(t, ddof=1) for t in per_tree])))
    result = stats.f_oneway(*per_tree)
    p = float(result.pvalue) if np.isfinite(result.pvalue) else 1.0
    return {"spread": round(spread, 6), "seed_noise": round(within, 6), "f": round(float(result.statistic), 4)
            if np.isfinite(result.statistic) else None, "p": round(p, 6), "matters": p < 0.05}


def rank_of(searched: float, others: list[float]) -> dict:
    """Where the searched tree's mean drop falls among the random trees' (lower is better): its
    percentile (share of random trees it beats, ties counted half) and the share of random trees
    at least as good, with a Wilson 95 % interval over the trees."""
    n = len(others)
    worse = sum(o > searched + 1e-12 for o in others)
    ties = sum(abs(o - searched) <= 1e-12 for o in others)
    good = n - worse
    ci = stats.binomtest(good, n).proportion_ci(confidence_level=0.95, method="wilson")
    return {"trees": n, "percentile": round((worse + 0.5 * ties) / n, 4),
            "at_least_as_good": round(good / n, 4),
            "at_least_as_good_interval": [round(ci.low, 4), round(ci.high, 4)]}


def seed_mean_drops(entry: MethodResult, independent: MethodResult, tasks: list[str]) -> list[float]:
    """The mean drop over the fraction-measured tasks of each seed of `entry`, each against
    the independent models' mean."""
    cmp = compare(entry, independent, tasks)
    pooled = [t for t in tasks if metric_spec(cmp["metric"][t]).fraction] or tasks
    ref = {t: independent.metrics[t][cmp["metric"][t]] for t in pooled}
    return [sum(drop(ref[t], s[t], cmp["metric"][t]) for t in pooled) / len(pooled)
            for s in entry.per_seed]


@register_method("random_tree", size_matched=True)
def random_trees(ctx: Context, state: SearchState) -> MethodResult | None:
    blocks, heads = ctx.block_params()
    searched = TreeSpec.from_json(ctx.tasks, state.final_records[0].tree) \
        if state.final_records else None
    rng = random.Random(stable_hash([ctx.data.key, searched.to_json() if searched else None]))
    draws = ctx.cfg.baselines.random_draws
    exact = searched is not None and ctx.cfg.baselines.target_params is None
    trees, how = (null_trees(ctx.tasks, [counts_of(searched)], searched, draws, rng)
                  if exact else ([], ""))
    target = target_params(ctx, state)
    if not trees:
        exact = False
        trees, how = null_trees(ctx.tasks, count_choices(len(ctx.tasks), blocks, heads, target),
                                searched, draws, rng)
    if not trees and searched is not None:        # the searched size has no other tree
        trees, how = null_trees(ctx.tasks, count_choices(len(ctx.tasks), blocks, heads, target,
                                                         skip=counts_of(searched)),
                                searched, draws, rng)
    if not trees:
        state.notes.append("random_tree: no other tree of that size to train")
        return None
    independent = independent_method(state.stage1.records, ctx.tasks,
                                      TreeSpec.independent(ctx.tasks, ctx.depth).to_json())
    # every tree × seed in one call: an executor with N workers keeps them all busy (one call
    # per tree left all but one worker idle with a single seed)
    jobs = [ctx.jobs(spec, f"random_tree {i}") for i, spec in enumerate(trees)]
    records = ctx.run([j for js in jobs for j in js], desc=f"random trees ({len(trees)})")
    per_tree, seed_drops, start = [], [], 0
    for spec, js in zip(trees, jobs):
        recs, start = records[start:start + len(js)], start + len(js)
        entry = tree_method(recs, ctx.tasks)
        cmp = compare(entry, independent, ctx.tasks)
        seed_drops.append(seed_mean_drops(entry, independent, ctx.tasks))
        per_tree.append({"tree": spec.to_json(), "params": entry.params, "macs": entry.macs,
                         "mean_drop": round(cmp["mean_drop"], 6),
                         "max_drop": round(cmp["max_drop"], 6), "per_seed": entry.per_seed})
    details = {"trees": per_tree, "target_params": target, "draw": how,
               "same_size": exact, "structure": structure_matters(seed_drops),
               "note": ("every tree has the searched tree's group counts: identical params and "
                        "MACs" if exact else "params and MACs: mean over trees of about the "
                        f"target size (±{100 * TOLERANCE:.0f} %)") + "; metrics: over trees × seeds"}
    if searched is not None and per_tree:
        mine = compare(tree_method(state.final_records, ctx.tasks), independent, ctx.tasks)
        details["searched"] = {"tree": searched.to_json(), "mean_drop": round(mine["mean_drop"], 6),
                               **rank_of(mine["mean_drop"], [t["mean_drop"] for t in per_tree])}
    return pooled_method(records, ctx.tasks, round(sum(t["params"] for t in per_tree) / len(per_tree)),
                         round(sum(t["macs"] for t in per_tree) / len(per_tree)), **details)
