"""`branched`: Branched multi-task networks (Vandenhende et al., BMVC 2020).

Task affinity per depth from representation similarity analysis of the stage-1 models, with
no training at all: for each task, seed and depth d, the K×K dissimilarity matrix
1 − Pearson(r_i, r_j) between the representations of K held-out clips after block d; the
affinity of two tasks at depth d is the Spearman correlation of their matrices' upper
triangles (averaged over seeds). Representation: the block's output through the backbone's own
global average pooling (over time for tc_cnn, over frequency and time for ds_cnn), so a clip is
a C-vector, insensitive to where in the clip things happen.

The tree: among all chains of nested partitions whose params fit the budget (default: the
hierarchical model's), the one with the lowest Σ_d Σ_groups Σ_pairs (1 − affinity_d). Exact for
up to 6 tasks (dynamic programming over (depth, partition) with a params/cost Pareto front,
equivalent to enumerating every chain); a beam search beyond. Only that tree is trained."""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch

from ..models import TreeSpec
from ..results import tree_method
from ..search.context import Context
from ..search.methods import SearchState, register_method
from ..training.batches import crop
from .common import block_and_head_params, plain_model, target_params

EXHAUSTIVE_TASKS = 6
BEAM_WIDTH = 64
REPRESENTATION = "global average pooling after each block (time; frequency and time for ds_cnn)"

Partition = tuple[tuple[str, ...], ...]

# ----------------------------------------------------------------------------- similarity


@torch.no_grad()
def representations(model, x: torch.Tensor) -> list[np.ndarray]:
    """(K, C_d) per depth d: a single-task model's pooled output of each block."""
    model.eval()
    h = model.backbone.prepare(model.norm(x))              # (K, C, T) or (K, 1, F, T)
    out = []
    for blocks in model.blocks:
        h = blocks[0](h)
        out.append(model.backbone.pool(h).double().cpu().numpy())   # (K, C_d)
    return out


def dissimilarity(reps: np.ndarray) -> np.ndarray:
    """K×K: 1 − Pearson correlation between the clips' representation vectors (a constant
    vector correlates 0 with anything)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.corrcoef(reps)
    return 1.0 - np.nan_to_num(c, nan=0.0)


def _ranks(v: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (Spearman's convention)."""
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v), dtype=float)
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(a) - (len(a) - 1) / 2, _ranks(b) - (len(b) - 1) / 2
    denom = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def rsa_affinity(rdm_a: np.ndarray, rdm_b: np.ndarray) -> float:
    iu = np.triu_indices(len(rdm_a), k=1)
    return spearman(rdm_a[iu], rdm_b[iu])


def rsa_clips(ctx: Context) -> torch.Tensor:
    """The first K validation clips (training clips when there is no validation split)."""
    index = ctx.data.indices("val")
    if len(index) < 3:
        index = ctx.data.indices("train")
    return index[:ctx.cfg.baselines.rsa_clips]


def task_affinity(ctx: Context) -> np.ndarray:
    """(L, T, T) affinities, averaged over seeds, from the stage-1 models."""
    tasks, L = ctx.tasks, ctx.depth
    x = crop(ctx.data.x[rsa_clips(ctx)], ctx.data.frames)           # (K, C, frames)
    total = np.zeros((L, len(tasks), len(tasks)))
    for s in ctx.seeds:
        jobs = [ctx.job(TreeSpec.single(t, L), s, f"stage1 {t}") for t in tasks]
        ctx.run(jobs, desc="branched: stage-1 models")                # read back, not trained
        rdms = []
        for t, job in zip(tasks, jobs):
            model = plain_model(ctx, job.spec)
            model.load_state_dict(ctx.store.load_state(job))
            rdms.append([dissimilarity(r) for r in representations(model, x)])
        for d in range(L):
            for i, j in itertools.combinations_with_replacement(range(len(tasks)), 2):
                a = 1.0 if i == j else rsa_affinity(rdms[i][d], rdms[j][d])
                total[d, i, j] += a
                total[d, j, i] = total[d, i, j]
    return total / len(ctx.seeds)


# ----------------------------------------------------------------------------- the tree search

def set_partitions(items: tuple) -> list[Partition]:
    """Every partition of `items`, groups ordered by their first item."""
    if not items:
        return [()]
    first, rest = items[0], items[1:]
    out = []
    for p in set_partitions(rest):
        out.append(((first,),) + p)
        for i in range(len(p)):
            out.append(p[:i] + ((first,) + p[i],) + p[i + 1:])
    order = {t: k for k, t in enumerate(items)}
    return [tuple(sorted(p, key=lambda g: order[g[0]])) for p in out]


def refinements(part: Partition, order: dict[str, int]) -> list[Partition]:
    out = []
    for pieces in itertools.product(*(set_partitions(g) for g in part)):
        groups = [g for piece in pieces for g in piece]
        out.append(tuple(sorted(groups, key=lambda g: order[g[0]])))
    return out


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


def _splits(part: Partition, order: dict[str, int]) -> list[Partition]:
    """Partitions made by splitting one group of `part` in two."""
    out = []
    for i, g in enumerate(part):
        for r in range(1, len(g)):
            for a in itertools.combinations(g[1:], r):        # g[0] stays in the first part
                b = tuple(t for t in g if t not in a)
                groups = list(part[:i]) + [a, b] + list(part[i + 1:])
                out.append(tuple(sorted(groups, key=lambda h: order[h[0]])))
    return out


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
                nxt = [q for p in level for q in _splits(p, order) if q not in seen]
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


@register_method("branched")
def branched(ctx: Context, state: SearchState) -> dict:
    begin = time.perf_counter()
    affinity = task_affinity(ctx)
    blocks, heads = block_and_head_params(ctx)
    budget = target_params(ctx, state)
    spec, cost, how = search_tree(ctx.tasks, 1.0 - affinity, blocks, heads, budget)
    seconds = time.perf_counter() - begin
    records = ctx.run(ctx.jobs(spec, "branched"), desc="branched")
    entry = tree_method(records, ctx.tasks)
    entry["search"] = {"trainings": 0, "seconds": round(seconds, 3), "clips": len(rsa_clips(ctx)),
                       "representation": REPRESENTATION, "budget": budget, "tree_search": how,
                       "dissimilarity": round(cost, 6), "affinity": np.round(affinity, 4).tolist()}
    return entry
