"""The final tree: trained with every seed and, with search.repair_rounds, repaired: a task the
compatibility rule finds incompatible with its tree (search.final_tolerance, if set, replaces
search.tolerance for tasks measured in fractions) is detached one depth earlier and the tree
trained again."""

from __future__ import annotations

from ..metrics import metric_spec
from ..utils.progress import say
from .compatibility import Rule
from .context import Context
from .methods import SearchState
from .stage3 import detach


def train_final(ctx: Context, state: SearchState) -> None:
    """Train the tree (r seeds); with repair, detach tasks that drop too much and retrain."""
    spec = state.tree
    rule = Rule(ctx.cfg, state.stage1, final=True)
    for round_ in range(ctx.cfg.search.repair_rounds + 1):
        records = ctx.run(ctx.jobs(spec, "hierarchical" if round_ == 0 else f"repair {round_}"),
                          desc="final tree")
        state.tree, state.final_records = spec, records
        if round_ == ctx.cfg.search.repair_rounds:
            break
        verdicts = {t: rule.judge(t, records) for t in ctx.tasks if spec.shared_depth_of(t) > 0}
        too_much = {t: v for t, v in verdicts.items() if not v.compatible}
        if not too_much:
            break
        for t, v in too_much.items():
            spec = detach(spec, t)
            unit = 100.0 if metric_spec(state.stage1.metric(t)).fraction else 1.0
            state.notes.append(f"repair {round_ + 1}: {t} dropped {unit * v.drop:.2f} on validation "
                               f"(threshold {unit * v.threshold:.2f}); it now shares one block fewer")
            say(state.notes[-1])
