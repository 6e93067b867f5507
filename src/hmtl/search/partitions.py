"""Nested partition chains: every tree over a task set is one (tree.py), and the searches over
trees (budget trees, branched, random trees) enumerate them from here."""

from __future__ import annotations

import itertools
from typing import Iterator

Partition = tuple[tuple[str, ...], ...]


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


def splits(part: Partition, order: dict[str, int]) -> list[Partition]:
    """Partitions made by splitting one group of `part` in two."""
    out = []
    for i, g in enumerate(part):
        for r in range(1, len(g)):
            for a in itertools.combinations(g[1:], r):        # g[0] stays in the first part
                b = tuple(t for t in g if t not in a)
                groups = list(part[:i]) + [a, b] + list(part[i + 1:])
                out.append(tuple(sorted(groups, key=lambda h: order[h[0]])))
    return out


def chains(tasks: tuple[str, ...], depth: int) -> Iterator[tuple[Partition, ...]]:
    """Every chain of `depth` nested partitions of `tasks` (P_1 coarsest): every tree there is.
    3,455 for 5 tasks and 4 depths, 44,590 for 6 tasks."""
    order = {t: i for i, t in enumerate(tasks)}

    def extend(chain: tuple[Partition, ...]) -> Iterator[tuple[Partition, ...]]:
        if len(chain) == depth:
            yield chain
            return
        for q in refinements(chain[-1], order):
            yield from extend(chain + (q,))

    for first in set_partitions(tuple(tasks)):
        yield from extend((first,))


def chain_params(chain: tuple[Partition, ...], blocks: list[int], heads: int) -> int:
    """Params of a tree from its group counts: Σ_d groups_d · block_d + heads (method.md)."""
    return sum(len(p) * b for p, b in zip(chain, blocks)) + heads
