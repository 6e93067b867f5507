"""Trees drawn at random with given group counts at each depth (so exactly given params and
MACs): the random-tree baseline's null distribution, and the budget search's candidates that
the predictor did not propose (search.budget_candidates). Up to ENUMERATE_TASKS tasks every
distinct tree is enumerated and drawn from without repetition; beyond, rejection sampling."""

from __future__ import annotations

import random

from ..models import TreeSpec
from .partitions import chains

ENUMERATE_TASKS = 6                 # beyond, trees are drawn by rejection sampling
TRIES = 200


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


def counts_of(spec: TreeSpec) -> tuple[int, ...]:
    return tuple(len(p) for p in spec.partitions)


def same_counts(tasks: list[str], counts: tuple[int, ...]) -> list[TreeSpec]:
    """Every tree with these group counts (enumerated; up to ENUMERATE_TASKS tasks)."""
    return [TreeSpec(tuple(tasks), c) for c in chains(tuple(tasks), len(counts))
            if tuple(len(p) for p in c) == counts]


def null_trees(tasks: list[str], choices: list[tuple[int, ...]], exclude: TreeSpec | None,
               draws: int, rng: random.Random) -> tuple[list[TreeSpec], str]:
    """Distinct trees with one of the group-count sequences `choices`, never `exclude`: all of
    them when there are at most `draws`, else `draws` drawn without repetition."""
    if len(tasks) <= ENUMERATE_TASKS:
        pool = [t for c in choices for t in same_counts(tasks, c) if t != exclude]
        if len(pool) <= draws:
            return pool, f"every distinct tree ({len(pool)})"
        return rng.sample(pool, draws), f"{draws} drawn from {len(pool)} distinct trees"
    found: list[TreeSpec] = []
    for _ in range(draws * TRIES):
        spec = random_tree(tasks, rng.choice(choices), rng)
        if spec != exclude and spec not in found:
            found.append(spec)
        if len(found) == draws:
            break
    return found, f"{len(found)} drawn at random (rejection sampling)"
