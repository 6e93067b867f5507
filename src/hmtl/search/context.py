"""What every stage needs: the config, the dataset, where runs are stored and who runs them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import ModelConfig, RunConfig
from ..data.dataset import Dataset
from ..executors import Executor, RunHandle, log_record
from ..models import TreeModel, TreeSpec, build_model, tree_cost
from ..models.backbones import get_backbone
from ..records import TrainRecord
from ..training.job import TrainJob
from ..training.store import RunStore


@dataclass
class Context:
    cfg: RunConfig
    data: Dataset
    folder: RunHandle            # the run folder: dataset, trainings, lock
    executor: Executor
    verbose: bool = True
    seed_offset: int = 0         # the first seed (stability repeats use fresh seeds)

    @property
    def store(self) -> RunStore:
        return self.folder.store

    @property
    def out_dir(self) -> Path:
        return self.folder.root

    @property
    def tasks(self) -> list[str]:
        return self.cfg.task_names

    @property
    def depth(self) -> int:
        return self.cfg.model.blocks

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed_offset, self.seed_offset + self.cfg.search.seeds))

    def job(self, spec: TreeSpec, seed: int, tag: str) -> TrainJob:
        weights = {t.name: t.weight for t in self.cfg.data.tasks}
        return TrainJob(spec, seed, self.cfg.model, self.cfg.train,
                        tuple((t, weights[t]) for t in spec.tasks), self.data.key, tag)

    def jobs(self, spec: TreeSpec, tag: str) -> list[TrainJob]:
        return [self.job(spec, s, tag) for s in self.seeds]

    def run(self, jobs: list[TrainJob], desc: str) -> list[TrainRecord]:
        return self.executor.run(jobs, self.folder, desc=desc,
                                 on_record=log_record if self.verbose else None)

    def build_model(self, spec: TreeSpec, model: ModelConfig | None = None) -> TreeModel:
        """An untrained model of `spec` on the run's data (for names, shapes and weights)."""
        return build_model(spec, model or self.cfg.model, self.head_sizes(spec),
                           self.data.x.shape[1], self.data.frames)

    def cost(self, spec: TreeSpec, model: ModelConfig | None = None) -> tuple[int, int]:
        """(params, MACs) of a tree from its spec alone (no weights are made)."""
        backbone = get_backbone(model or self.cfg.model, self.data.x.shape[1], self.data.frames)
        return tree_cost(spec, backbone, self.head_sizes(spec))

    def head_sizes(self, spec: TreeSpec) -> dict[str, int]:
        return {t: self.data.head_size(t) for t in spec.tasks}

    def block_params(self) -> tuple[list[int], int]:
        """Params of one instance of each block, and of all heads together: a tree's size is
        Σ_d groups_d · block_d + heads (method.md)."""
        b = get_backbone(self.cfg.model, self.data.x.shape[1], self.data.frames)
        blocks = [b.block_params(d) for d in range(1, self.depth + 1)]
        return blocks, self.cost(TreeSpec.flat(self.tasks, self.depth))[0] - sum(blocks)
