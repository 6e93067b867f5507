"""`random_tree`: random trees of about the hierarchical model's size, which shows what the
synergy analysis is worth over sharing blocks at random.

A tree's params depend only on how many groups each depth has, so a draw first picks a
sequence of group counts n_1 ≤ … ≤ n_L uniformly among those within `TOLERANCE` of the target
(or, when none is, the closest), then random nested partitions with those counts: the tasks
shuffled into n_1 non-empty groups, then random groups split in two until each depth has its
count. Draws are seeded by their index, so a rerun draws the same trees; a draw that repeats an
earlier tree is redrawn (a few tries). Each tree is trained with every seed."""

from __future__ import annotations

import random

from ..models import TreeSpec
from ..records import MethodResult
from ..results import pooled_method
from ..search.context import Context
from ..search.methods import SearchState, register_method
from .common import counts_params, group_counts, target_params

TOLERANCE = 0.03
TRIES = 20


def _random_partition(tasks: list[str], n: int, rng: random.Random) -> list[list[str]]:
    order = tasks[:]
    rng.shuffle(order)
    groups = [[t] for t in order[:n]]
    for t in order[n:]:
        rng.choice(groups).append(t)
    return groups


def _split(groups: list[list[str]], rng: random.Random) -> list[list[str]]:
    g = rng.choice([g for g in groups if len(g) > 1])
    members = g[:]
    rng.shuffle(members)
    a, b = [members[0]], [members[1]]
    for t in members[2:]:
        (a if rng.random() < 0.5 else b).append(t)
    return [h for h in groups if h is not g] + [a, b]


def random_tree(tasks: list[str], counts: tuple[int, ...], rng: random.Random) -> TreeSpec:
    """Random nested partitions with `counts[d]` groups at depth d."""
    parts = [_random_partition(tasks, counts[0], rng)]
    for n in counts[1:]:
        groups = [g[:] for g in parts[-1]]
        while len(groups) < n:
            groups = _split(groups, rng)
        parts.append(groups)
    return TreeSpec(tuple(tasks), tuple(tuple(tuple(g) for g in p) for p in parts))


def count_choices(tasks: int, blocks: list[int], heads: int, target: int) -> list[tuple[int, ...]]:
    """Group-count sequences within the tolerance of the target, else the closest ones."""
    all_counts = list(group_counts(tasks, len(blocks)))
    gap = {c: abs(counts_params(c, blocks, heads) - target) for c in all_counts}
    near = [c for c in all_counts if gap[c] <= TOLERANCE * target]
    return near or [c for c in all_counts if gap[c] == min(gap.values())]


def draw_trees(tasks: list[str], blocks: list[int], heads: int, target: int,
               draws: int) -> list[TreeSpec]:
    choices = count_choices(len(tasks), blocks, heads, target)
    trees: list[TreeSpec] = []
    for i in range(draws):
        rng = random.Random(7919 * (i + 1))
        for _ in range(TRIES):
            spec = random_tree(tasks, rng.choice(choices), rng)
            if spec not in trees:
                break
        trees.append(spec)
    return trees


@register_method("random_tree")
def random_trees(ctx: Context, state: SearchState) -> MethodResult:
    target = target_params(ctx, state)
    blocks, heads = ctx.block_params()
    trees = draw_trees(ctx.tasks, blocks, heads, target, ctx.cfg.baselines.random_draws)
    records, draws = [], []
    for i, spec in enumerate(trees):
        recs = ctx.run(ctx.jobs(spec, f"random_tree {i}"), desc=f"random tree {i + 1}/{len(trees)}")
        records += recs
        params, macs = ctx.cost(spec)
        draws.append({"tree": spec.to_json(), "params": params, "macs": macs})
    return pooled_method(records, ctx.tasks, round(sum(d["params"] for d in draws) / len(draws)),
                         round(sum(d["macs"] for d in draws) / len(draws)),
                         trees=draws, target_params=target,
                         note="params and MACs: mean over the draws; metrics: over draws × seeds")
