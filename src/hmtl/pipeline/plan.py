"""The plan a run prints before it trains: how many trainings each stage costs, how many the run
folder already holds, and about how long the rest takes.

Only arithmetic on the config lives here (no torch, no run folder): what the run's data adds
(parameter counts, relative compute) comes in as `Sizes`, what is done and how fast a training
is comes from preflight.py. Counts decided during the run (early exit, the tree's size, random
trees that exist) are upper bounds, marked so."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ..config import RunConfig

Exactness = Literal["exact", "at most", "about"]
SIGN = {"exact": "", "at most": "≤", "about": "≈"}


@dataclass(frozen=True)
class Sizes:
    """What the arithmetic needs from the run's data. `units`: one training's time relative to
    one isolated model's, per kind of model (single, pair, flat, tree, lt4rec): timed steps of
    each kind where the plan calibrates, else their MACs (which overstate what small models
    cost: their steps are mostly fixed per-step work)."""
    independent: int = 0                 # params of the independent set
    flat: int = 0                        # params of the flat model, the smallest tree
    searched: int | None = None          # params of the final tree, once the run has it
    budgets: tuple[int, ...] = ()        # search.budgets in params (the budget trees' ceilings)
    units: dict[str, float] = field(default_factory=dict)
    imp_rounds: Callable[[int], int] | None = None   # LTH rounds down to a target size


@dataclass(frozen=True)
class StagePlan:
    name: str
    trainings: int          # what the stage costs: exactly, at most, or about
    how: str                # the arithmetic, for people
    exactness: Exactness = "exact"
    done: int = 0           # of those, finished in the run folder already
    units: float = 1.0      # one training's compute, in isolated-model trainings
    epochs: float = 1.0     # epochs of one training, as a fraction of train.epochs

    @property
    def todo(self) -> int:
        return max(0, self.trainings - self.done)


@dataclass(frozen=True)
class Plan:
    stages: list[StagePlan]
    seconds_per_training: float | None = None   # one isolated model, train.epochs or fewer
    calibration: str = ""                       # where that figure comes from
    parallel: int = 1                           # trainings at once (executor workers)

    @property
    def trainings(self) -> int:
        return sum(s.trainings for s in self.stages)

    @property
    def done(self) -> int:
        return sum(min(s.done, s.trainings) for s in self.stages)

    @property
    def todo(self) -> int:
        return sum(s.todo for s in self.stages)

    @property
    def exactness(self) -> Exactness:
        kinds = {s.exactness for s in self.stages if s.trainings}
        return "about" if "about" in kinds else "at most" if "at most" in kinds else "exact"

    @property
    def seconds(self) -> float | None:
        """Training time of what is left, at `parallel` trainings at once."""
        if self.seconds_per_training is None:
            return None
        work = sum(s.todo * s.units * s.epochs for s in self.stages)
        return work * self.seconds_per_training / max(1, self.parallel)

    def render(self) -> str:
        sign = SIGN[self.exactness]
        lines = ["plan:"]
        width = max([14] + [len(s.name) for s in self.stages])
        for s in self.stages:
            done = f", {s.done} done" if s.done else ""
            lines.append(f"  {s.name:<{width}} {SIGN[s.exactness]:>1}{s.trainings:>6} "
                         f"{'training ' if s.trainings == 1 else 'trainings'}  ({s.how}{done})")
        lines.append(f"  {'total':<{width}} {sign:>1}{self.trainings:>6} trainings, {self.done} done, "
                     f"{sign}{self.todo} to train")
        if self.todo == 0:
            lines.append("  time: nothing to train")
        elif self.seconds is not None:
            at_once = f", {self.parallel} at once" if self.parallel > 1 else ""
            lines.append(f"  time: ≈ {duration(self.seconds)} of training{at_once} "
                         f"({self.calibration})")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "seconds": self.seconds}


def n_of(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sweep_depths(sweep: str, depth: int) -> tuple[int, Exactness]:
    """Depths one pair trains at most: all of them, or a binary search's probes."""
    if sweep == "binary":
        return math.ceil(math.log2(depth + 1)), "at most"
    return depth, "exact" if sweep == "exhaustive" else "at most"


def lt4rec_rounds(rate: float, base: int, target: int, tasks: int) -> int:
    """Pruning rounds until the union of T task masks over `base` params fits `target`, were
    the masks drawn independently at each round's density p = (1 − rate)^n, i.e. until
    base · (1 − (1 − p)^T) ≤ target. An estimate: magnitude masks grown from one
    initialisation overlap more than independent ones, so a run needs up to a round or two
    fewer (RAVDESS ×0.25, 5 tasks: 9–10 rounds against 11 estimated and 12 for disjoint masks)."""
    if target >= base:
        return 0
    density = 1 - (1 - target / base) ** (1 / tasks)
    return max(0, math.ceil(math.log(density) / math.log(1 - rate)))


def plan_stages(cfg: RunConfig, until: str = "all", sizes: Sizes | None = None) -> list[StagePlan]:
    """The stages `hmtl run` will train for `cfg` up to `until`, with nothing done yet."""
    sizes = sizes or Sizes()
    unit = sizes.units.get
    T, r, L = len(cfg.task_names), cfg.search.seeds, cfg.model.blocks
    P = T * (T - 1) // 2
    s, b, seeds = cfg.search, cfg.baselines, n_of(r, "seed")
    stages = [StagePlan("stage 1", T * r, f"{n_of(T, 'task')} × {seeds}",
                        units=unit("single", 1.0))]
    if until != "stage1" and T > 1:
        per_pair, exact = sweep_depths(s.sweep, L)
        pairs_depths, how = P * per_pair, f"{n_of(P, 'pair')} × {per_pair} depths"
        if s.sweep != "exhaustive":
            how = f"{n_of(P, 'pair')} × ≤{per_pair} depths, {s.sweep} sweep"
        if s.prescreen is not None:
            keep = min(P, max(1, math.ceil(s.prescreen * P)))
            if keep * L < pairs_depths:
                pairs_depths = keep * L
                how = f"{keep} of {n_of(P, 'pair')} × {L} depths after pre-screening"
        warm = (s.warm_epochs or max(1, cfg.train.epochs // 4)) / cfg.train.epochs \
            if s.warm_start else 1.0
        stage2 = StagePlan("stage 2", pairs_depths * r, f"{how} × {seeds}", exact,
                           units=unit("pair", 1.0), epochs=min(1.0, warm))
        stages.append(stage2)
        if s.stability:
            search = T * r + stage2.trainings
            stages.append(StagePlan(
                "stability", s.stability * search,
                f"{n_of(s.stability, 'repeat')} × ({T * r} + {stage2.trainings})",
                "exact" if stage2.exactness == "exact" else "at most",
                units=(T * r * unit("single", 1.0) + stage2.trainings * stage2.units) / search))
    if until != "all":
        return stages
    rounds = s.repair_rounds + 1
    repair = f" × ≤{rounds} repair rounds" if s.repair_rounds else ""
    stages.append(StagePlan("final tree", r * rounds, seeds + repair,
                            "at most" if s.repair_rounds else "exact", units=unit("tree", 1.0)))
    budgets = len(s.budgets) if T > 1 else 0
    chosen = budgets + (s.budget_params is not None and T > 1)
    if chosen and s.budget_candidates > 1:
        stages.append(StagePlan("budget candidates", chosen * s.budget_candidates * s.candidate_seeds,
                                f"{n_of(chosen, 'budget')} × ≤{s.budget_candidates} trees × "
                                f"{n_of(s.candidate_seeds, 'seed')}", "at most",
                                units=unit("tree", 1.0)))
    if budgets:
        stages.append(StagePlan("budget trees", budgets * r,
                                f"{n_of(budgets, 'budget')} × {seeds}", "at most",
                                units=unit("tree", 1.0)))
    for method in cfg.methods:
        row = method_plan(method, cfg, sizes, budgets if method in b.at_budgets else 0)
        if row is not None:
            stages.append(row)
    return stages


def method_plan(method: str, cfg: RunConfig, sizes: Sizes, budgets: int) -> StagePlan | None:
    """A compared method's trainings: once at the searched tree's size (plus once per budget
    for the size-matched ones of baselines.at_budgets). None: it trains nothing of its own."""
    T, r, b = len(cfg.task_names), cfg.search.seeds, cfg.baselines
    unit = sizes.units.get
    n, sized = 1 + budgets, f" × {1 + budgets} sizes" if budgets else ""
    each = f"{n_of(T, 'task')} × {n_of(r, 'seed')}"
    # the size the baselines match: set, or the final tree's, which is at least the flat model's
    target = b.target_params or sizes.searched or sizes.flat
    known = bool(b.target_params or sizes.searched)
    rewind = 1 if b.rewind_epoch else 0
    if method in ("independent", "hierarchical"):
        return None                                    # stage 1's and the final tree's
    if method == "flat":
        return StagePlan("flat", r, n_of(r, "seed"), units=unit("flat", 1.0))
    if method in ("flat_matched", "branched"):
        return StagePlan(method, n * r, n_of(r, "seed") + sized, units=unit("tree", 1.0))
    if method == "random_tree":
        return StagePlan(method, n * b.random_draws * r,
                         f"≤{b.random_draws} trees × {n_of(r, 'seed')}{sized}", "at most",
                         units=unit("tree", 1.0))
    if method in ("lth", "lt4rec") and not target:
        return StagePlan(method, 0, "pruning rounds unknown without the run's data", "about")
    if method == "lth" and sizes.imp_rounds is not None:
        # every size prunes by the same schedule and differs only in its own last round, which
        # prunes exactly to its target: the sizes share their trainings down to the smallest
        smallest = min([target, *sizes.budgets]) if budgets else target
        rounds = sizes.imp_rounds(smallest)
        steps = (["1 rewind"] if rewind else []) + [f"{rounds} rounds to the smallest size"]
        if budgets:
            steps.append(f"≤{budgets} last rounds of the other sizes")
        exact = known and not budgets
        return StagePlan(method, T * r * (rewind + rounds + budgets),
                         f"{each} × ({' + '.join(steps)})", "exact" if exact else "at most",
                         units=unit("single", 1.0))
    if method == "lt4rec":
        base = b.lt4rec_base_params or sizes.independent
        rounds = max(0, lt4rec_rounds(b.pruning_rate, base, target, T) - 1)  # the last: no training
        steps = ["1 dense"] + (["1 rewind"] if rewind else []) + [f"~{rounds} rounds{sized}"]
        return StagePlan(method, T * r * (1 + rewind + n * rounds) + n * r,
                         f"{each} × ({' + '.join(steps)}) + {r} joint{sized}", "about",
                         units=unit("lt4rec", 1.0))
    return StagePlan(method, 0, "not known to the plan", "about")
