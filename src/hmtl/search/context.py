"""What every stage needs: the config, the dataset, where runs are stored and who runs them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import RunConfig
from ..data.dataset import Dataset
from ..executors import Executor, log_record
from ..models import TreeSpec
from ..training.job import RunStore, TrainJob


@dataclass
class Context:
    cfg: RunConfig
    data: Dataset
    store: RunStore
    executor: Executor
    out_dir: Path
    verbose: bool = True

    @property
    def tasks(self) -> list[str]:
        return self.cfg.task_names

    @property
    def depth(self) -> int:
        return self.cfg.model.blocks

    @property
    def seeds(self) -> list[int]:
        return list(range(self.cfg.search.seeds))

    def job(self, spec: TreeSpec, seed: int, tag: str) -> TrainJob:
        weights = {t.name: t.weight for t in self.cfg.data.tasks}
        return TrainJob(spec, seed, self.cfg.model, self.cfg.train,
                        tuple((t, weights[t]) for t in spec.tasks), self.data.key, tag)

    def jobs(self, spec: TreeSpec, tag: str) -> list[TrainJob]:
        return [self.job(spec, s, tag) for s in self.seeds]

    def run(self, jobs: list[TrainJob], desc: str) -> list[dict]:
        return self.executor.run(jobs, self.store, self.data, desc=desc,
                                 on_record=log_record if self.verbose else None)

    def tolerance(self, task: str, spread: float = 0.0) -> float:
        """τ for a task: its own or the search default, widened by z·σ when noise-aware."""
        own = next(t.tolerance for t in self.cfg.data.tasks if t.name == task)
        base = self.cfg.search.tolerance if own is None else own
        return base + self.cfg.search.noise_z * spread


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
