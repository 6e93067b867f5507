"""The typed records of a run, each with its JSON round trip, in one place:

    TrainRecord    one training's outcome: a job folder's metrics.json
    MethodResult   one compared method: an entry of results.json's "methods"

A task's metrics on a split are a mapping from metric name to value ({"accuracy": 0.81,
"macro_f1": 0.79, "n": 216}); which names a task has is its type's business (hmtl.tasks) and
which one drops are measured in is hmtl.metrics'. The JSON written is exactly the format readers
rely on (interfaces.md); fields a reader does not know are kept in `extra` and written back."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .metrics import primary_metric

TaskMetrics = dict[str, float]              # metric name -> value (counts "n", "trials" too)
SplitMetrics = dict[str, TaskMetrics]       # task -> its metrics


def _split_known(cls, data: dict) -> tuple[dict, dict]:
    names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
    return ({k: v for k, v in data.items() if k in names},
            {k: v for k, v in data.items() if k not in names})


@dataclass
class TrainRecord:
    """What one training gave: its identity, size, validation and test metrics per task, how
    long it trained and where. Optional fields are written only when set."""

    key: str
    tag: str
    tasks: list[str]
    tree: list
    seed: int
    params: int
    macs: int
    val: SplitMetrics
    test: SplitMetrics
    best_epoch: int
    epochs: int
    seconds: float
    device: str
    select: SplitMetrics | None = None     # on the validation half that picked the best epoch
    nonzero_params: int | None = None      # pruned or sparse models: weights that are not 0
    packed: int | None = None              # trained together with this many models (packed)
    cuda_graphs: bool | None = None        # packed on CUDA: replayed from a CUDA graph
    threads: int | None = None             # torch threads of the process that trained it
    history: list[dict] | None = None      # per epoch {epoch, loss, score (validation)}
    extra: dict[str, Any] = field(default_factory=dict)   # a job kind's own figures

    OPTIONAL = ("select", "nonzero_params", "packed", "cuda_graphs", "threads", "history")

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "extra" and not (f.name in self.OPTIONAL and getattr(self, f.name) is None)}
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: dict) -> "TrainRecord":
        known, extra = _split_known(cls, data)
        return cls(**known, extra=extra)

    def metric(self, task: str) -> str:
        """The task's primary metric (accuracy, EER or MAE)."""
        return primary_metric(self.val[task])

    def value(self, task: str, split: str = "val") -> float:
        """The task's primary metric on a split."""
        metrics = self.val if split == "val" else self.test
        return metrics[task][primary_metric(metrics[task])]

    @property
    def nonzero(self) -> int:
        return self.params if self.nonzero_params is None else self.nonzero_params


@dataclass
class MethodResult:
    """One compared method in results.json: dense size and cost, non-zero weights, per-task test
    metrics (mean and std over seeds, the primary metric named), each seed's primary values,
    the tree (tree-shaped methods), and the method's own details."""

    params: int
    nonzero_params: int
    macs: int
    metrics: dict[str, dict]               # task -> {metric: mean, metric_std: std, primary}
    primary: str | dict[str, str]          # "accuracy" when every task is classified, else per task
    per_seed: list[dict[str, float]]       # per seed, each task's primary test value
    tree: list | None = None               # partitions per depth, for methods of this run's widths
    details: dict[str, Any] = field(default_factory=dict)   # e.g. search, pruning, trees, widths
    vs_independent: dict | None = None     # the comparison results.build_results adds
    # the trainings behind each task's metrics, in seed order (not written: for paired
    # comparisons while the run is assembled)
    records: dict[str, list[TrainRecord]] = field(default_factory=dict, repr=False, compare=False)

    FIXED = ("params", "nonzero_params", "macs", "metrics", "primary")

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in self.FIXED}
        if self.tree is not None:
            out["tree"] = self.tree
        out["per_seed"] = self.per_seed
        out.update(self.details)
        if self.vs_independent is not None:
            out["vs_independent"] = self.vs_independent
        return out

    @classmethod
    def from_json(cls, data: dict) -> "MethodResult":
        """Tolerant of entries written by older versions: absent sizes read as 0."""
        known, details = _split_known(cls, data)
        known.pop("records", None)
        known.setdefault("params", 0)
        known.setdefault("macs", 0)
        known.setdefault("nonzero_params", known["params"])
        known.setdefault("per_seed", [])
        known.setdefault("primary", "accuracy")
        known.setdefault("metrics", {})
        return cls(**known, details=details)
