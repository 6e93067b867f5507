"""Stage 2: pairwise compatibility by sweeping the shared depth k = 1..L.

For each pair and depth, the pair model (blocks 1..k shared) is trained for r seeds and both
tasks' validation drops against stage 1 are measured. A pair is compatible at k when both drops
are within tolerance; its compatibility depth K is the largest k compatible at every depth ≤ k.
With early exit, depths are swept upwards in waves and a pair stops at its first incompatible
depth: the deeper models are never trained, and the record says so and why. With RSA
pre-screening (search.prescreen), a depth whose pair is among the least alike in the stage-1
models' representations is taken as incompatible without training, and the record says that.
The decisions themselves are compatibility.py's."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ..models import TreeSpec
from ..utils.stats import mean_std
from .compatibility import Rule, Verdict, compatibility_depth
from .context import Context
from .stage1 import Stage1


@dataclass
class DepthOutcome:
    trained: bool
    drops: dict[str, float] = field(default_factory=dict)        # mean seed-paired drop (val)
    drop_std: dict[str, float] = field(default_factory=dict)     # spread of the paired drops
    synergy: float | None = None                                  # −(drop_a + drop_b)/2
    compatible: bool | None = None
    skipped: str | None = None                                    # why it was not trained
    prescreened: bool = False                                     # skipped by RSA pre-screening
    seconds: float = 0.0                                          # training time, all seeds
    verdicts: dict[str, Verdict] = field(default_factory=dict)   # the rule's, per task


@dataclass
class PairOutcome:
    tasks: tuple[str, str]
    depths: dict[int, DepthOutcome]
    tolerances: dict[str, float]

    @property
    def compatibility_depth(self) -> int:
        return compatibility_depth({k: o.compatible for k, o in self.depths.items()})

    @property
    def trained_depths(self) -> list[int]:
        return sorted(k for k, o in self.depths.items() if o.trained)

    @property
    def mean_synergy(self) -> float:
        values = [o.synergy for o in self.depths.values() if o.trained]
        return sum(values) / len(values) if values else 0.0

    def to_json(self) -> dict:
        return {
            "tasks": list(self.tasks), "depth": self.compatibility_depth,
            "drops": {str(k): o.drops for k, o in sorted(self.depths.items()) if o.trained},
            "drop_std": {str(k): o.drop_std for k, o in sorted(self.depths.items()) if o.trained},
            "synergy": {str(k): o.synergy for k, o in sorted(self.depths.items()) if o.trained},
            "tolerance": self.tolerances,
            "decisions": {str(k): {t: v.to_json() for t, v in o.verdicts.items()}
                          for k, o in sorted(self.depths.items()) if o.trained},
            "skipped": {str(k): o.skipped for k, o in sorted(self.depths.items()) if not o.trained},
        }


PRESCREEN = "RSA pre-screen"


def pair_tag(a: str, b: str, k: int) -> str:
    return f"pair {a}+{b} k={k}"


class _Sweep:
    """Which depths of one pair to train next, and what the untrained ones are inferred to be."""

    def __init__(self, kind: str, depth: int):
        self.kind, self.L = kind, depth
        self.lo, self.hi = 0, depth + 1          # binary: K in [lo, hi)
        self.next_up = 1                          # upward: next depth to try
        self.done = False

    def next(self) -> list[int]:
        if self.done:
            return []
        if self.kind == "exhaustive":
            self.done = True
            return list(range(1, self.L + 1))
        if self.kind == "upward":
            return [self.next_up] if self.next_up <= self.L else []
        return [(self.lo + self.hi) // 2] if self.hi - self.lo > 1 else []

    def update(self, k: int, compatible: bool) -> None:
        if self.kind == "upward":
            self.next_up = k + 1
            self.done = not compatible
        elif self.kind == "binary":
            if compatible:
                self.lo = k
            else:
                self.hi = k

    def infer(self, k: int) -> DepthOutcome:
        """An untrained depth: skipped by early exit, or implied by the binary search."""
        if self.kind == "binary":
            if k <= self.lo:
                return DepthOutcome(trained=False, compatible=True,
                                    skipped=f"binary search: compatible at depth {self.lo}, so "
                                            "here too (prefix property)")
            return DepthOutcome(trained=False, compatible=False,
                                skipped=f"binary search: incompatible at depth {self.hi}, so "
                                        "here too (prefix property)")
        return DepthOutcome(trained=False, compatible=False,
                            skipped=f"incompatible at depth {self.next_up - 1}: not trained "
                                    "(early exit)")


def run_stage2(ctx: Context, s1: Stage1) -> list[PairOutcome]:
    L = ctx.depth
    pairs = list(itertools.combinations(ctx.tasks, 2))
    rule = Rule(ctx.cfg, s1)
    outcomes = {p: PairOutcome(p, {}, {t: rule.tolerance(t) for t in p}) for p in pairs}
    kind = ctx.cfg.search.sweep
    sweeps = {p: _Sweep(kind, L) for p in pairs}
    screened = prescreen(ctx, pairs) if ctx.cfg.search.prescreen is not None else {}

    def take_as_incompatible(p, k):     # a screened depth: recorded, never trained
        outcomes[p].depths[k] = DepthOutcome(trained=False, compatible=False,
                                             skipped=screened[p, k], prescreened=True)
        sweeps[p].update(k, False)

    if kind == "binary":                # K lies below a pair's first screened depth
        for p in pairs:
            first = min((k for q, k in screened if q == p), default=None)
            if first is not None:
                take_as_incompatible(p, first)
    wave = 0
    while True:
        todo = [(p, k) for p in pairs for k in sweeps[p].next()]
        for p, k in todo:
            if (p, k) in screened:
                take_as_incompatible(p, k)
        todo = [(p, k) for p, k in todo if (p, k) not in screened]
        if not todo:
            break
        wave += 1
        jobs = [pair_job(ctx, s1, a, b, k, s) for (a, b), k in todo for s in ctx.seeds]
        records = ctx.run(jobs, desc=f"stage 2, wave {wave}")
        n = len(ctx.seeds)
        for i, (p, k) in enumerate(todo):
            recs = records[i * n:(i + 1) * n]
            outcome = DepthOutcome(trained=True, seconds=sum(r.seconds for r in recs))
            for t in p:
                outcome.verdicts[t] = verdict = rule.judge(t, recs)
                outcome.drops[t] = verdict.drop
                outcome.drop_std[t] = mean_std([s1.drop(t, r) for r in recs])[1]
            outcome.synergy = -sum(rule.comparable(t, outcome.drops[t]) for t in p) / 2
            outcome.compatible = all(v.compatible for v in outcome.verdicts.values())
            outcomes[p].depths[k] = outcome
        for p, k in todo:                       # after the whole wave: exhaustive has no order
            sweeps[p].update(k, outcomes[p].depths[k].compatible)
    for p in pairs:
        for k in range(1, L + 1):
            if k not in outcomes[p].depths:
                outcomes[p].depths[k] = sweeps[p].infer(k)
    return [outcomes[p] for p in pairs]


def prescreen(ctx: Context, pairs: list[tuple[str, str]]) -> dict[tuple, str]:
    """(pair, depth) -> why it is not trained: at each depth, the pairs outside the fraction
    search.prescreen with the highest affinity of their stage-1 representations after that block.
    Costs one forward pass of the stage-1 models over baselines.rsa_clips clips."""
    import math

    from .affinity import task_affinity

    affinity = task_affinity(ctx)                               # (L, T, T), mean over seeds
    index = {t: i for i, t in enumerate(ctx.tasks)}
    keep = max(1, math.ceil(ctx.cfg.search.prescreen * len(pairs)))
    out = {}
    for k in range(1, ctx.depth + 1):
        score = {p: float(affinity[k - 1, index[p[0]], index[p[1]]]) for p in pairs}
        ranked = sorted(pairs, key=lambda p: -score[p])     # stable: ties keep pair order
        cut = score[ranked[keep - 1]]
        for p in ranked[keep:]:
            out[p, k] = (f"{PRESCREEN}: affinity {score[p]:.2f} after block {k}, below the "
                         f"{keep} most alike pairs' {cut:.2f}: taken as incompatible, not trained")
    return out


def pair_job(ctx: Context, s1: Stage1, a: str, b: str, k: int, seed: int):
    """The pair model's job: plain, or warm-started from the two stage-1 models of this seed."""
    spec = TreeSpec.pair(a, b, k, ctx.depth)
    if not ctx.cfg.search.warm_start:
        return ctx.job(spec, seed, pair_tag(a, b, k))
    from ..training.warm import warm_start_job

    sources = {t: ctx.job(TreeSpec.single(t, ctx.depth), seed, f"stage1 {t}") for t in (a, b)}
    return warm_start_job(ctx.job(spec, seed, pair_tag(a, b, k) + " warm"),
                          {t: (j.key, str(ctx.store.folder(j) / "model.pt")) for t, j in sources.items()},
                          ctx.cfg.search.warm_epochs)
