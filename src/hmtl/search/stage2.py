"""Stage 2: pairwise compatibility by sweeping the shared depth k = 1..L.

For each pair and depth, the pair model (blocks 1..k shared) is trained for r seeds and both
tasks' validation drops against stage 1 are measured. A pair is compatible at k when both drops
are within tolerance; its compatibility depth K is the largest k compatible at every depth ≤ k.
With early exit, depths are swept upwards in waves and a pair stops at its first incompatible
depth: the deeper models are never trained, and the record says so and why."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ..models import TreeSpec
from ..training.metrics import drop
from .context import Context, mean_std
from .stage1 import Stage1


@dataclass
class DepthOutcome:
    trained: bool
    drops: dict[str, float] = field(default_factory=dict)        # mean over seeds (val)
    drop_std: dict[str, float] = field(default_factory=dict)
    synergy: float | None = None                                  # −(drop_a + drop_b)/2
    compatible: bool | None = None
    skipped: str | None = None                                    # why it was not trained
    seconds: float = 0.0                                          # training time, all seeds


@dataclass
class PairOutcome:
    tasks: tuple[str, str]
    depths: dict[int, DepthOutcome]
    tolerances: dict[str, float]

    @property
    def compatibility_depth(self) -> int:
        k = 0
        for d in sorted(self.depths):
            if self.depths[d].compatible:
                k = d
            else:
                break
        return k

    @property
    def trained_depths(self) -> list[int]:
        return sorted(k for k, o in self.depths.items() if o.trained)

    @property
    def mean_synergy(self) -> float:
        values = [o.synergy for o in self.depths.values() if o.trained]
        return sum(values) / len(values) if values else 0.0

    def predicted_drop(self, d: int) -> float:
        """Worse of the two drops at depth d; an untrained depth takes the deepest measured one
        (sharing more is assumed to cost at least as much)."""
        trained = [k for k, o in self.depths.items() if o.trained and k <= d]
        k = max(trained) if trained else min(k for k, o in self.depths.items() if o.trained)
        return max(self.depths[k].drops.values())

    def to_json(self) -> dict:
        return {
            "tasks": list(self.tasks), "depth": self.compatibility_depth,
            "drops": {str(k): o.drops for k, o in sorted(self.depths.items()) if o.trained},
            "drop_std": {str(k): o.drop_std for k, o in sorted(self.depths.items()) if o.trained},
            "synergy": {str(k): o.synergy for k, o in sorted(self.depths.items()) if o.trained},
            "tolerance": self.tolerances,
            "skipped": {str(k): o.skipped for k, o in sorted(self.depths.items()) if not o.trained},
        }


def pair_tag(a: str, b: str, k: int) -> str:
    return f"pair {a}+{b} k={k}"


def run_stage2(ctx: Context, s1: Stage1) -> list[PairOutcome]:
    L = ctx.depth
    pairs = list(itertools.combinations(ctx.tasks, 2))
    outcomes = {p: PairOutcome(p, {}, {t: ctx.tolerance(t, s1.spread(t)) for t in p}) for p in pairs}
    early = ctx.cfg.search.early_exit
    waves = [[k] for k in range(1, L + 1)] if early else [list(range(1, L + 1))]
    alive = set(pairs)
    for depths in waves:
        todo = [(p, k) for p in pairs if p in alive for k in depths]
        if not todo:
            break
        jobs = [ctx.job(TreeSpec.pair(a, b, k, L), s, pair_tag(a, b, k))
                for (a, b), k in todo for s in ctx.seeds]
        label = f"stage 2, depth {depths[0]}" if early else "stage 2"
        records = ctx.run(jobs, desc=label)
        n = len(ctx.seeds)
        for i, (p, k) in enumerate(todo):
            recs = records[i * n:(i + 1) * n]
            outcome = DepthOutcome(trained=True, seconds=sum(r["seconds"] for r in recs))
            for t in p:
                ds = [drop(s1.reference(t), r["val"][t]["accuracy"]) for r in recs]
                outcome.drops[t], outcome.drop_std[t] = mean_std(ds)
            outcome.synergy = -sum(outcome.drops.values()) / 2
            outcome.compatible = all(outcome.drops[t] <= outcomes[p].tolerances[t] for t in p)
            outcomes[p].depths[k] = outcome
            if early and not outcome.compatible:
                alive.discard(p)
                for deeper in range(k + 1, L + 1):
                    outcomes[p].depths[deeper] = DepthOutcome(
                        trained=False, skipped=f"incompatible at depth {k}: not trained (early exit)")
    return [outcomes[p] for p in pairs]
