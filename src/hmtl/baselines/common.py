"""What several baselines need: the parameter target they match and the sizes of nested
partition chains by their group counts."""

from __future__ import annotations

import itertools

from ..errors import HmtlError
from ..search.context import Context


def target_params(ctx: Context, state) -> int:
    """baselines.target_params, else the trained hierarchical model's parameter count."""
    if ctx.cfg.baselines.target_params is not None:
        return ctx.cfg.baselines.target_params
    if not state.final_records:
        raise HmtlError("baselines need the hierarchical model's size: train the final tree "
                        "or set baselines.target_params")
    return int(state.final_records[0].params)


def group_counts(tasks: int, depth: int):
    """Every non-decreasing sequence of group counts (n_1 ≤ … ≤ n_L, 1 ≤ n ≤ T) a chain of
    nested partitions can have."""
    return itertools.combinations_with_replacement(range(1, tasks + 1), depth)


def counts_params(counts, blocks: list[int], heads: int) -> int:
    return sum(n * b for n, b in zip(counts, blocks)) + heads
