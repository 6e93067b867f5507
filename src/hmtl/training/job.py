"""A training job: one model (tree spec) trained with one seed on the run's dataset.

A job's folder under `runs/` is named by the hash of everything that determines its result
(spec, seed, model and training config, task weights, dataset fingerprint), and a job whose
`metrics.json` exists is never trained again. This is what makes every stage resumable, and
what lets any executor run jobs in any order."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import ModelConfig, TrainConfig
from ..models import TreeSpec
from ..models.backbones import model_identity
from ..records import SplitMetrics, TrainRecord
from ..utils.io import stable_hash
from .plain import train_job

if TYPE_CHECKING:
    from ..data.dataset import Dataset
    from .fit import FitResult

JOB_FORMAT = 1
# Training fields added after format 1 are hashed only when they differ from their default, so
# that a new option does not orphan every finished training of existing run folders.
LATER_TRAIN_DEFAULTS = {"precision": "fp32", "selection": "all", "compile": False}
# Training fields that say where and how a job runs, not what it is: never hashed, never a
# reason not to pack two jobs together.
HOW_IT_RUNS = ("device", "cuda_graphs", "logger")


@dataclass(frozen=True)
class TrainJob:
    spec: TreeSpec
    seed: int
    model: ModelConfig
    train: TrainConfig
    weights: tuple[tuple[str, float], ...]   # task loss weights, for the spec's tasks
    data_key: str
    tag: str = ""                            # for people (e.g. "pair emotion+gender k=2"); not hashed

    packable = True   # plain jobs can be trained packed with others of their shape

    def identity(self) -> dict:
        """Everything that decides the result; subclasses (e.g. baselines) add their own."""
        train = dataclasses.asdict(self.train)
        for how in HOW_IT_RUNS:
            train.pop(how)
        for name, default in LATER_TRAIN_DEFAULTS.items():
            if train.get(name) == default:
                train.pop(name)
        return {"format": JOB_FORMAT, "tasks": list(self.spec.tasks),
                "spec": self.spec.to_json(), "seed": self.seed,
                "model": model_identity(self.model), "train": train,
                "weights": [list(w) for w in self.weights], "data": self.data_key}

    @property
    def key(self) -> str:
        return stable_hash(self.identity())

    def execute(self, data: "Dataset") -> tuple[TrainRecord, dict]:
        """Train; returns (record, state_dict). Other kinds of job override this."""
        return train_job(self, data)

    def record(self, cost: tuple[int, int], val: SplitMetrics, test: SplitMetrics,
               fit: "FitResult", seconds: float, device: str, **more) -> TrainRecord:
        """This job's record: its identity, the model's (params, MACs), metrics, the fit."""
        return TrainRecord(key=self.key, tag=self.tag, tasks=list(self.spec.tasks),
                           tree=self.spec.to_json(), seed=self.seed, params=cost[0],
                           macs=cost[1], val=val, test=test, best_epoch=fit.best_epoch,
                           epochs=fit.epochs, seconds=round(seconds, 3), device=device,
                           history=epoch_history(fit), **more)


def epoch_history(fit: "FitResult") -> list[dict] | None:
    """The fit's per-epoch record as metrics.json keeps it (plain numbers), None when empty."""
    return [{"epoch": int(h["epoch"]), "loss": round(float(h["loss"]), 6),
             "score": round(float(h["score"]), 6)} for h in fit.history] or None
