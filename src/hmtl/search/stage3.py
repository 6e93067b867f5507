"""Stage 3: from pairwise compatibility depths to a tree.

Complete-linkage agglomerative clustering with distance L − K(i, j). Cutting the dendrogram at
height L − d gives the partition at depth d: every pair inside one group at depth d has K ≥ d,
so no measured pairwise limit is exceeded, and the partitions nest by construction. Ties are
broken by higher mean synergy, then by task order. Repair detaches a task that drops too much
one depth earlier (final.py); trees for parameter budgets come from budget.py."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import TreeSpec
from .stage2 import PairOutcome


@dataclass
class Merge:
    left: tuple[str, ...]
    right: tuple[str, ...]
    height: int            # L − (compatibility depth of the merged cluster)


def complete_linkage(tasks: list[str], depth: int, K: dict[frozenset, int],
                     synergy: dict[frozenset, float]) -> list[Merge]:
    order = {t: i for i, t in enumerate(tasks)}
    clusters = [(t,) for t in tasks]
    merges = []
    while len(clusters) > 1:
        best = None
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                cross = [frozenset((a, b)) for a in clusters[i] for b in clusters[j]]
                dist = max(depth - K[p] for p in cross)
                syn = sum(synergy[p] for p in cross) / len(cross)
                key = (dist, -syn, order[clusters[i][0]], order[clusters[j][0]])
                if best is None or key < best[0]:
                    best = (key, i, j)
        (dist, _, _, _), i, j = best
        merged = tuple(sorted(clusters[i] + clusters[j], key=order.__getitem__))
        merges.append(Merge(clusters[i], clusters[j], dist))
        clusters = [c for k, c in enumerate(clusters) if k not in (i, j)] + [merged]
    return merges


def cut(tasks: list[str], depth: int, merges: list[Merge]) -> TreeSpec:
    """P_d = the clusters formed by merges of height ≤ L − d."""
    parts = []
    for d in range(1, depth + 1):
        groups = {t: (t,) for t in tasks}
        for m in merges:
            if m.height <= depth - d:
                merged = tuple(sorted(set(groups[m.left[0]]) | set(groups[m.right[0]]),
                                      key=tasks.index))
                for t in merged:
                    groups[t] = merged
        parts.append(tuple(dict.fromkeys(groups.values())))
    return TreeSpec(tuple(tasks), tuple(parts))


def tree_from_pairs(tasks: list[str], depth: int, pairs: list[PairOutcome]) -> TreeSpec:
    K = {frozenset(p.tasks): p.compatibility_depth for p in pairs}
    syn = {frozenset(p.tasks): p.mean_synergy for p in pairs}
    if len(tasks) == 1:
        return TreeSpec.single(tasks[0], depth)
    return cut(tasks, depth, complete_linkage(tasks, depth, K, syn))


def detach(spec: TreeSpec, task: str) -> TreeSpec:
    """The task shares one block fewer: from its last shared depth on it has its own blocks."""
    shared = spec.shared_depth_of(task)
    if shared == 0:
        return spec
    parts = []
    for d in range(1, spec.depth + 1):
        if d < shared:
            parts.append(spec.groups(d))
            continue
        groups = []
        for g in spec.groups(d):
            if task in g and len(g) > 1:
                groups += [tuple(t for t in g if t != task), (task,)]
            else:
                groups.append(g)
        parts.append(tuple(groups))
    return TreeSpec(spec.tasks, tuple(parts))
