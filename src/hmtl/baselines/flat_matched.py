"""`flat_matched`: the flat model widened (or narrowed) to the hierarchical model's size, which
separates "sharing everything" from "having fewer parameters".

Every block width is scaled by one factor s (rounded, at least 1 channel); params grow with s,
so bisection finds the boundary where the flat model crosses the target and the closer of the
two sides wins. Trained with every seed, with the run's recipe; the entry records the widths."""

from __future__ import annotations

import dataclasses

from ..config import ModelConfig
from ..models import TreeSpec
from ..records import MethodResult
from ..results import tree_method
from ..search.context import Context
from ..search.methods import SearchState, register_method
from .common import target_params


def scaled(model: ModelConfig, factor: float) -> ModelConfig:
    widths = [max(1, int(round(w * factor))) for w in model.block_widths]
    return dataclasses.replace(model, widths=widths)


def match_widths(params_of, model: ModelConfig, target: int) -> tuple[ModelConfig, float]:
    """(model config, factor) whose flat params are closest to `target`."""
    lo, hi = 0.0, 1.0
    while params_of(scaled(model, hi)) < target and hi < 1e4:
        lo, hi = hi, hi * 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if params_of(scaled(model, mid)) < target else (lo, mid)
    below, above = scaled(model, lo), scaled(model, hi)
    if abs(params_of(below) - target) < abs(params_of(above) - target):
        return below, lo
    return above, hi


@register_method("flat_matched", size_matched=True)
def flat_matched(ctx: Context, state: SearchState) -> MethodResult:
    target = target_params(ctx, state)
    spec = TreeSpec.flat(ctx.tasks, ctx.depth)
    model, factor = match_widths(lambda m: ctx.cost(spec, m)[0], ctx.cfg.model,
                                 target)
    jobs = [dataclasses.replace(ctx.job(spec, s, "flat_matched"), model=model) for s in ctx.seeds]
    entry = tree_method(ctx.run(jobs, desc="flat, matched size"), ctx.tasks)
    # not "tree": the report rebuilds per-depth sizes from the run's widths, not these
    entry.details.update({"shape": entry.tree, "widths": model.block_widths,
                          "scale": round(factor, 4), "target_params": target})
    entry.tree = None
    return entry
