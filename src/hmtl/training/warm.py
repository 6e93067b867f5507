"""Warm-started pair models: a cheaper sweep. A pair model at depth k starts from the two
stage-1 models of the same seed — the shared blocks from the pair's first task, each task's
own blocks and head from its own model — and trains for fewer epochs. Not exact: the bench
reports how often it finds the same compatibility depths and tree as cold training."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..data.dataset import Dataset
from ..records import TrainRecord
from .job import TrainJob
from .plain import train_job


@dataclass(frozen=True)
class WarmStartJob(TrainJob):
    sources: tuple[tuple[str, str, str], ...] = ()   # (task, source job key, its model.pt)

    packable = False

    def identity(self) -> dict:
        return {**super().identity(), "warm_from": [[t, key] for t, key, _ in self.sources]}

    def execute(self, data: Dataset) -> tuple[TrainRecord, dict]:
        states = {t: torch.load(path, map_location="cpu", weights_only=True)
                  for t, _, path in self.sources}
        return train_job(self, data, init=lambda model: load_from_single_models(model, states))


def warm_start_job(job: TrainJob, sources: dict[str, tuple[str, str]],
                   epochs: int | None) -> WarmStartJob:
    epochs = epochs or max(1, job.train.epochs // 4)
    train = dataclasses.replace(job.train, epochs=epochs, patience=min(job.train.patience, epochs),
                                warmup_epochs=min(job.train.warmup_epochs, epochs / 4))
    return WarmStartJob(job.spec, job.seed, job.model, train, job.weights, job.data_key, job.tag,
                        tuple((t, key, path) for t, (key, path) in sources.items()))


def load_from_single_models(model, states: dict[str, dict]) -> None:
    """Fill a tree model from single-task models: each block instance from the model of its
    group's first task, each head from its own task's model (BatchNorm statistics included)."""
    target = model.state_dict()
    for d in range(model.spec.depth):
        for g, group in enumerate(model.spec.groups(d + 1)):
            prefix = f"blocks.{d}.0."
            for name, value in states[group[0]].items():
                if name.startswith(prefix):
                    target[f"blocks.{d}.{g}." + name[len(prefix):]] = value
    for t in model.spec.tasks:
        for name, value in states[t].items():
            if name.startswith(f"heads.{t}."):
                target[name] = value
    model.load_state_dict(target)
