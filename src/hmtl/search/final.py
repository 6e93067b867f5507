"""The final tree: trained with every seed and, with search.repair_rounds, repaired: a task that
drops more than its tolerance is detached one depth earlier and the tree trained again."""

from __future__ import annotations

from ..utils.progress import say
from ..utils.stats import mean_std
from .context import Context
from .methods import SearchState
from .stage3 import detach


def train_final(ctx: Context, state: SearchState) -> None:
    """Train the tree (r seeds); with repair, detach tasks that drop too much and retrain."""
    spec = state.tree
    final_tol = ctx.cfg.search.final_tolerance
    for round_ in range(ctx.cfg.search.repair_rounds + 1):
        records = ctx.run(ctx.jobs(spec, "hierarchical" if round_ == 0 else f"repair {round_}"),
                          desc="final tree")
        state.tree, state.final_records = spec, records
        if round_ == ctx.cfg.search.repair_rounds:
            break
        too_much = []
        for t in ctx.tasks:
            d = mean_std([state.stage1.drop(t, r.val[t]) for r in records])[0]
            tol = ctx.tolerance(t, state.stage1.spread(t)) if final_tol is None else final_tol
            if d > tol and spec.shared_depth_of(t) > 0:
                too_much.append((t, d))
        if not too_much:
            break
        for t, d in too_much:
            spec = detach(spec, t)
            state.notes.append(f"repair {round_ + 1}: {t} dropped {100 * d:.1f} pts on validation; "
                               f"it now shares one block fewer")
            say(state.notes[-1])
