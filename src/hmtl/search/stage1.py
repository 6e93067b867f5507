"""Stage 1: every task's isolated model, r seeds. Their validation accuracies are the reference
a_t that every drop is measured against; their test metrics are the `independent` method."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import TreeSpec
from ..metrics import drop
from ..records import TrainRecord
from ..utils.stats import mean_std
from .context import Context


@dataclass
class Stage1:
    records: dict[str, list[TrainRecord]]    # task -> one record per seed

    def metric(self, task: str) -> str:
        """The task's primary metric (accuracy, EER or MAE)."""
        return self.records[task][0].metric(task)

    def reference(self, task: str) -> float:
        """Mean validation value a_t of the isolated model's primary metric."""
        return mean_std([r.value(task) for r in self.records[task]])[0]

    def spread(self, task: str) -> float:
        """Seed-to-seed standard deviation of that validation value."""
        return mean_std([r.value(task) for r in self.records[task]])[1]

    def drop(self, task: str, record: TrainRecord) -> float:
        """Seed-paired drop of another model's validation metric against this seed's isolated
        model (positive = worse)."""
        ref = next(r for r in self.records[task] if r.seed == record.seed)
        return drop(ref.value(task), record.value(task), self.metric(task))


def run_stage1(ctx: Context) -> Stage1:
    jobs = [ctx.job(TreeSpec.single(t, ctx.depth), s, f"stage1 {t}")
            for t in ctx.tasks for s in ctx.seeds]
    records = ctx.run(jobs, desc="stage 1")
    n = len(ctx.seeds)
    return Stage1({t: records[i * n:(i + 1) * n] for i, t in enumerate(ctx.tasks)})
