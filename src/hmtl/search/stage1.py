"""Stage 1: every task's isolated model, r seeds. Their validation accuracies are the reference
a_t that every drop is measured against; their test metrics are the `independent` method."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import TreeSpec
from .context import Context, mean_std


@dataclass
class Stage1:
    records: dict[str, list[dict]]          # task -> one record per seed

    def reference(self, task: str) -> float:
        """Mean validation accuracy a_t of the isolated model."""
        return mean_std([r["val"][task]["accuracy"] for r in self.records[task]])[0]

    def spread(self, task: str) -> float:
        """Seed-to-seed standard deviation of that validation accuracy."""
        return mean_std([r["val"][task]["accuracy"] for r in self.records[task]])[1]


def run_stage1(ctx: Context) -> Stage1:
    jobs = [ctx.job(TreeSpec.single(t, ctx.depth), s, f"stage1 {t}")
            for t in ctx.tasks for s in ctx.seeds]
    records = ctx.run(jobs, desc="stage 1")
    n = len(ctx.seeds)
    return Stage1({t: records[i * n:(i + 1) * n] for i, t in enumerate(ctx.tasks)})
