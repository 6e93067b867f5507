"""Compared methods, registered by name. Each gets the context and what the stages found, trains
what it needs (through the executor, so it resumes like everything else) and returns its
results.json entry. Baselines register themselves here when imported (hmtl.pipeline does)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..models import TreeSpec
from ..records import MethodResult, TrainRecord
from ..results import independent_method, tree_method
from .budget import DropPredictor
from .context import Context
from .stage1 import Stage1
from .stage2 import PairOutcome


@dataclass
class SearchState:
    stage1: Stage1
    pairs: list[PairOutcome] = field(default_factory=list)
    tree: TreeSpec | None = None
    final_records: list[TrainRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    predictor: DropPredictor | None = None          # drops of any tree, from stage 2's
    stability: dict | None = None                   # search.stability's repeats


MethodFn = Callable[[Context, SearchState], MethodResult | None]   # None: nothing to train


@dataclass(frozen=True)
class Method:
    name: str
    run: MethodFn
    exportable: bool          # one dense model per seed that `hmtl export` and `predict` load
    size_matched: bool        # matches the searched tree's size: rerun at every budget's size


METHODS: dict[str, Method] = {}


def register_method(name: str, exportable: bool = False,
                    size_matched: bool = False) -> Callable[[MethodFn], MethodFn]:
    def deco(fn: MethodFn) -> MethodFn:
        METHODS[name] = Method(name, fn, exportable, size_matched)
        return fn
    return deco


def exportable_methods() -> list[str]:
    return [m.name for m in METHODS.values() if m.exportable]


@register_method("independent", exportable=True)
def independent(ctx: Context, state: SearchState) -> MethodResult:
    return independent_method(state.stage1.records, ctx.tasks,
                              TreeSpec.independent(ctx.tasks, ctx.depth).to_json())


@register_method("flat", exportable=True)
def flat(ctx: Context, state: SearchState) -> MethodResult:
    records = ctx.run(ctx.jobs(TreeSpec.flat(ctx.tasks, ctx.depth), "flat"), desc="flat")
    return tree_method(records, ctx.tasks)


@register_method("hierarchical", exportable=True)
def hierarchical(ctx: Context, state: SearchState) -> MethodResult:
    return tree_method(state.final_records, ctx.tasks)

