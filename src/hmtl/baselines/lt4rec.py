"""`lt4rec`: sparse sharing (Sun et al., AAAI 2020; LT4REC, Xiao et al. 2020).

One shared network from a common initialisation θ0, larger than the target: the flat network
widened to the independent set's size (baselines.lt4rec_base_params), so that the target is
reached by pruning and each task really gets its own sparse subnetwork; one binary mask per task
from iterative magnitude pruning of that network trained on the task alone; then joint training
in which each step takes a batch of one task (tasks in turn, clips labelled for it), uses only
that task's mask and updates only the weights inside it.

- Common initialisation: the flat model and every single-task model of one width built from one
  seed have the same blocks (blocks are created before heads), so the per-task IMP is
  `pruning.Imp` on the single-task models of the base network's widths. Joint training starts
  from θ0 (also when the IMP rewinds to an epoch).
- Size: non-zero params = the union of the task masks + heads and norms. IMP goes on until that
  is within the target (default: the hierarchical model's); the last round prunes the least
  common fraction that fits. Dense params and MACs are the base network's.
- Joint training: sparse_sharing.py (each task's steps touch only the weights in its mask)."""

from __future__ import annotations

import math

import torch

from ..config import ModelConfig
from ..errors import HmtlError
from ..models import TreeSpec
from ..records import MethodResult
from ..results import tree_method
from ..search.context import Context
from ..search.methods import SearchState, register_method
from ..training.device import seed_everything
from .common import target_params
from .flat_matched import match_widths
from .masks import Masks, alive_count, save_masks, sparsity_report
from .pruning import Imp, job_fields, prune_by_magnitude, round_count
from .sparse_sharing import SparseSharingJob, union_size


# ----------------------------------------------------------------------------- the method

def base_model(ctx: Context, flat: TreeSpec) -> ModelConfig:
    """The shared network the masks come from: the flat network widened to
    baselines.lt4rec_base_params, by default the independent set's size."""
    size = ctx.cfg.baselines.lt4rec_base_params or \
        ctx.cost(TreeSpec.independent(ctx.tasks, ctx.depth))[0]
    return match_widths(lambda m: ctx.cost(flat, m)[0], ctx.cfg.model, size)[0]


def check_common_init(ctx: Context, flat: TreeSpec, model: ModelConfig) -> None:
    """The single-task models' blocks must be the flat model's at initialisation."""
    with torch.random.fork_rng(devices=[]):
        seed_everything(0)
        a = ctx.build_model(flat, model).state_dict()
        seed_everything(0)
        b = ctx.build_model(TreeSpec.single(ctx.tasks[-1], ctx.depth), model).state_dict()
    if any(not torch.equal(a[k], b[k]) for k in a if k.startswith("blocks.")):
        raise HmtlError("lt4rec: the single-task and flat models do not share their initial "
                        "blocks; sparse sharing needs a common initialisation")


def _least_pruning(imp: Imp, current: dict, masks: dict, seed: int, fits, full: dict) -> dict:
    """Per task, the smallest common fraction f ≤ rate of its remaining weights whose pruning
    makes the union fit (bisection; the union only shrinks as f grows). `full` (a whole round,
    known to fit) is the fallback."""
    tasks = imp.ctx.tasks
    states = {t: imp.ctx.store.load_state(current[(t, seed)][0]) for t in tasks}
    alive = {t: alive_count(masks[(t, seed)]) for t in tasks}

    def at(f: float) -> dict:
        return {t: prune_by_magnitude(states[t], masks[(t, seed)],
                                      min(alive[t] - 1, int(math.floor(f * alive[t] + 0.5))))
                for t in tasks}

    lo, hi = 0.0, imp.rate
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if fits(at(mid)) else (mid, hi)
    least = at(hi)
    return least if fits(least) else full


@register_method("lt4rec", size_matched=True)
def lt4rec(ctx: Context, state: SearchState) -> MethodResult:
    target = target_params(ctx, state)
    flat = TreeSpec.flat(ctx.tasks, ctx.depth)
    base = base_model(ctx, flat)
    imp = Imp(ctx, "lt4rec", base)
    check_common_init(ctx, flat, base)
    flat_params = ctx.cost(flat, base)[0]

    def size(by_task: dict[str, Masks]) -> int:
        kept, covered = union_size(by_task)
        return flat_params - covered + kept

    floor_ = size({t: {n: torch.zeros_like(m) for n, m in imp.empty[t].items()}
                   for t in ctx.tasks}) + len(ctx.tasks)
    if target < floor_:
        raise HmtlError(f"lt4rec: a target of {target:,} parameters is below what pruning can "
                        f"reach ({floor_:,}); raise baselines.target_params")
    current = imp.dense()
    masks = {k: imp.empty[k[0]] for k in imp.keys}
    seeds = ctx.seeds
    rounds = {s: 0 for s in seeds}
    done = {s: size({t: masks[(t, s)] for t in ctx.tasks}) <= target for s in seeds}
    round_ = 0
    while not all(done.values()):
        round_ += 1
        todo = {}
        for s in (s for s in seeds if not done[s]):
            full = {t: imp.prune(current[(t, s)][0], masks[(t, s)],
                                 round_count(imp.rate, alive_count(masks[(t, s)])))
                    for t in ctx.tasks}
            rounds[s] = round_
            if size(full) <= target:                   # the last round: prune just enough
                last = _least_pruning(imp, current, masks, s,
                                      lambda by_task: size(by_task) <= target, full)
                masks.update({(t, s): last[t] for t in ctx.tasks})
                done[s] = True
            else:
                masks.update({(t, s): full[t] for t in ctx.tasks})
                todo.update({(t, s): full[t] for t in ctx.tasks})
        if todo:
            current.update(imp.train(round_, todo))

    jobs = [SparseSharingJob(**{**job_fields(ctx.job(flat, s, "")), "model": base},
                             tag="lt4rec joint",
                             masks=tuple((t, tuple(masks[(t, s)].items())) for t in ctx.tasks))
            for s in seeds]
    records = ctx.run(jobs, desc="lt4rec: joint training")
    for job, s in zip(jobs, seeds):
        folder = ctx.store.folder(job)
        if not (folder / "masks.pt").exists():
            by_task = {t: masks[(t, s)] for t in ctx.tasks}
            save_masks(folder, by_task, {
                "tasks": {t: sparsity_report(m, imp.params[t]) for t, m in by_task.items()},
                "union": union_size(by_task)[0], "nonzero_params": size(by_task)})
    entry = tree_method(records, ctx.tasks)
    entry.nonzero_params = max(r.nonzero for r in records)
    # not "tree": the network has its own widths (the report sizes "tree" with the run's)
    entry.details["shape"], entry.tree = entry.tree, None
    entry.details["pruning"] = {
        "base_widths": base.block_widths, "base_params": flat_params,
        "target_params": target, "rounds": [rounds[s] for s in seeds], "rate": imp.rate,
        "rewind_epoch": imp.rewind_epoch, "prune_heads": imp.heads,
        "masks": [r.extra["masks"] for r in records], "union": [r.extra["union"] for r in records],
        "nonzero_per_seed": [r.nonzero for r in records],
        "trainings": imp.trainings + len(jobs),
        "note": ("the dense shared network already fits the target: complete masks"
                 if not any(rounds.values()) else ""),
    }
    return entry
