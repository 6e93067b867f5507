"""`lth`: the Lottery Ticket Hypothesis baseline (Frankle & Carbin 2019).

Each task keeps its own single-task model; iterative magnitude pruning removes
`baselines.pruning_rate` of the remaining prunable weights per round, rewinding to the initial
weights (or to `rewind_epoch`), until the independent set's total non-zero parameters is at most
the target (default: the hierarchical model's). The number of weights each task keeps after
each round is fixed in advance by `imp_schedule` (the same for every seed); the last round
prunes exactly what is still needed.

The entry reports dense params and MACs (pruning saves no dense compute), the non-zero params
of the final pruned models, and their test metrics over seeds."""

from __future__ import annotations

from ..models import TreeSpec
from ..records import MethodResult
from ..results import independent_method
from ..search.context import Context
from ..search.methods import SearchState, register_method
from .common import target_params
from .pruning import Imp, imp_schedule


def lth_schedule(imp: Imp, target: int) -> list[dict[str, int]]:
    fixed = sum(imp.params[t] - imp.prunable[t] for t in imp.prunable)
    return imp_schedule(imp.prunable, fixed, target, imp.rate)


@register_method("lth", size_matched=True)
def lth(ctx: Context, state: SearchState) -> MethodResult:
    target = target_params(ctx, state)
    imp = Imp(ctx, "lth")
    schedule = lth_schedule(imp, target)
    current = imp.dense()
    masks = {k: imp.empty[k[0]] for k in imp.keys}
    for round_, keep in enumerate(schedule, start=1):
        masks = {k: imp.prune(current[k][0], masks[k],
                              sum(int(m.sum()) for m in masks[k].values()) - keep[k[0]])
                 for k in imp.keys}
        current = imp.train(round_, masks)

    by_task = {t: [current[(t, s)][1] for s in ctx.seeds] for t in ctx.tasks}
    entry = independent_method(by_task, ctx.tasks, TreeSpec.independent(ctx.tasks, ctx.depth).to_json())
    entry.nonzero_params = sum(by_task[t][0].nonzero for t in ctx.tasks)
    entry.details["pruning"] = {
        "target_params": target, "rounds": len(schedule), "rate": imp.rate,
        "rewind_epoch": imp.rewind_epoch, "prune_heads": imp.heads,
        "kept": {t: (schedule[-1][t] if schedule else imp.prunable[t]) for t in ctx.tasks},
        "prunable": dict(imp.prunable), "trainings": imp.trainings,
    }
    return entry
