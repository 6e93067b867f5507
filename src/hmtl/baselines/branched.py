"""`branched`: Branched multi-task networks (Vandenhende et al., BMVC 2020).

Task affinity per depth from representation similarity analysis of the stage-1 models
(search/affinity.py), with no training at all.

The tree: among all chains of nested partitions whose params fit the budget (default: the
hierarchical model's), the one with the lowest Σ_d Σ_groups Σ_pairs (1 − affinity_d). Exact for
up to 6 tasks (dynamic programming over (depth, partition) with a params/cost Pareto front,
equivalent to enumerating every chain); a beam search beyond. Only that tree is trained."""

from __future__ import annotations

import itertools
import time

import numpy as np

from ..models import TreeSpec
from ..records import MethodResult
from ..results import tree_method
from ..search.affinity import REPRESENTATION, rsa_clips, task_affinity
from ..search.partitions import Partition, refinements, set_partitions, splits
from ..search.context import Context
from ..search.methods import SearchState, register_method
from .common import target_params

EXHAUSTIVE_TASKS = 6
BEAM_WIDTH = 64

# ----------------------------------------------------------------------------- the tree search

def partition_cost(part: Partition, dis: np.ndarray, order: dict[str, int]) -> float:
    return float(sum(dis[order[a], order[b]] for g in part for a, b in itertools.combinations(g, 2)))


def _pareto(cands: list[tuple]) -> list[tuple]:
    """Keep (params, cost, …) entries that no cheaper-or-equal-params entry beats on cost."""
    out = []
    for c in sorted(cands, key=lambda c: (c[0], c[1])):
        if not out or c[1] < out[-1][1] - 1e-12:
            out.append(c)
    return out


def exhaustive_tree(tasks: list[str], dis: np.ndarray, blocks: list[int], heads: int,
                    budget: int) -> tuple[TreeSpec, float] | None:
    """The lowest-dissimilarity chain within budget over ALL nested partition chains (DP over
    (depth, partition); the Pareto front on (params, cost) of the chains below keeps it exact).
    None when no chain fits."""
    order = {t: i for i, t in enumerate(tasks)}
    L = len(blocks)
    memo: dict = {}

    def front(d: int, part: Partition) -> list[tuple]:
        if (d, part) not in memo:
            p, c = len(part) * blocks[d], partition_cost(part, dis[d], order)
            if d == L - 1:
                memo[(d, part)] = [(p, c, None)]
            else:
                memo[(d, part)] = _pareto([(p + p2, c + c2, (q, p2)) for q in refinements(part, order)
                                          for p2, c2, _ in front(d + 1, q)])
        return memo[(d, part)]

    best = None
    for part in set_partitions(tuple(tasks)):
        for p, c, nxt in front(0, part):
            if p + heads <= budget and (best is None or (c, p) < best[:2]):
                best = (c, p, part, nxt)
    if best is None:
        return None
    chain, nxt, d = [best[2]], best[3], 1
    while nxt is not None:
        q, p2 = nxt
        chain.append(q)
        nxt = next(e[2] for e in front(d, q) if e[0] == p2)
        d += 1
    return TreeSpec(tuple(tasks), tuple(chain)), best[0]


def beam_tree(tasks: list[str], dis: np.ndarray, blocks: list[int], heads: int, budget: int,
              width: int = BEAM_WIDTH) -> tuple[TreeSpec, float] | None:
    """Depth by depth, keep the `width` cheapest feasible partial chains; a depth's partition is
    its parent's refined by successive single splits (the cheapest `width` per number of splits)."""
    order = {t: i for i, t in enumerate(tasks)}
    L = len(blocks)
    beams = [((), (tuple(tasks),), 0.0, 0)]                  # chain, parent, cost, params
    for d in range(L):
        cands = {}
        for chain, parent, cost, params in beams:
            level, options, seen = [parent], [parent], {parent}
            while level:
                nxt = [q for p in level for q in splits(p, order) if q not in seen]
                seen.update(nxt)
                level = sorted(set(nxt), key=lambda q: (partition_cost(q, dis[d], order), q))[:width]
                options += level
            for q in options:
                p = params + len(q) * blocks[d]
                if p + len(q) * sum(blocks[d + 1:]) + heads > budget:
                    continue                                   # cannot be completed in budget
                cands[chain + (q,)] = (cost + partition_cost(q, dis[d], order), p)
        beams = [(c, c[-1], v[0], v[1]) for c, v in
                 sorted(cands.items(), key=lambda kv: (kv[1], kv[0]))[:width]]
        if not beams:
            return None
    chain, _, cost, _ = beams[0]
    return TreeSpec(tuple(tasks), chain), cost


def search_tree(tasks: list[str], dis: np.ndarray, blocks: list[int], heads: int,
                budget: int) -> tuple[TreeSpec, float, str]:
    """(tree, its dissimilarity, how it was found); the flat tree when nothing fits."""
    search = exhaustive_tree if len(tasks) <= EXHAUSTIVE_TASKS else beam_tree
    found = search(tasks, dis, blocks, heads, budget)
    how = "exhaustive" if len(tasks) <= EXHAUSTIVE_TASKS else f"beam {BEAM_WIDTH}"
    if found is None:
        spec = TreeSpec.flat(tasks, len(blocks))
        order = {t: i for i, t in enumerate(tasks)}
        return spec, sum(partition_cost(p, dis[d], order) for d, p in
                         enumerate(spec.partitions)), how + ", nothing fits: flat"
    return found[0], found[1], how


@register_method("branched", size_matched=True)
def branched(ctx: Context, state: SearchState) -> MethodResult:
    begin = time.perf_counter()
    affinity = task_affinity(ctx)
    blocks, heads = ctx.block_params()
    budget = target_params(ctx, state)
    spec, cost, how = search_tree(ctx.tasks, 1.0 - affinity, blocks, heads, budget)
    seconds = time.perf_counter() - begin
    records = ctx.run(ctx.jobs(spec, "branched"), desc="branched")
    entry = tree_method(records, ctx.tasks)
    entry.details["search"] = {"trainings": 0, "seconds": round(seconds, 3), "clips": len(rsa_clips(ctx)),
                       "representation": REPRESENTATION, "budget": budget, "tree_search": how,
                       "dissimilarity": round(cost, 6), "affinity": np.round(affinity, 4).tolist()}
    return entry
