"""What makes training multi-task: the summed per-task loss over the clips labelled for each
task, and per-task evaluation, whatever each task's type. The loop itself stays ignorant of both.

A `TaskSet` is a job's tasks in the job's column order, with what their losses and metrics need
(type, classes or statistics, trial pairs, task options)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..config import TaskConfig
from ..tasks import TaskInfo, TaskType, task_type
from .batches import eval_batches


class MultiTaskLoss:
    """Σ_t w_t · L_t, each task's loss averaged over the batch's clips labelled for it (label -1 =
    unlabelled), without any host-device synchronisation (a Python `if` on a CUDA value would
    stall the GPU every step). Targets are `y` (B, n) or `(y, values)`; columns follow `tasks`."""

    def __init__(self, tasks: list[str], weights: dict[str, float] | None = None,
                 types: list[TaskType] | None = None, infos: list[TaskInfo] | None = None,
                 cfgs: list[TaskConfig] | None = None, aux: nn.ModuleDict | None = None):
        self.tasks = tasks
        self.weights = [float((weights or {}).get(t, 1.0)) for t in tasks]
        self.types = types or [task_type("classification")] * len(tasks)
        self.infos = infos or [TaskInfo() for _ in tasks]
        self.cfgs = cfgs or [TaskConfig(t) for t in tasks]
        self.aux = aux

    def __call__(self, outputs: dict[str, torch.Tensor], targets) -> torch.Tensor:
        y, v = targets if isinstance(targets, tuple) else (targets, None)
        total = 0.0
        for j, task in enumerate(self.tasks):
            target = y[:, j]
            labelled = target >= 0
            aux = self.aux[task] if self.aux is not None and task in self.aux else None
            per_clip = self.types[j].loss(outputs[task], target, None if v is None else v[:, j],
                                          self.infos[j], self.cfgs[j], aux)
            total = total + self.weights[j] * (per_clip * labelled).sum() / labelled.sum().clamp(min=1)
        return total


class TaskSet:
    """A job's tasks and everything their losses and metrics need, in the job's column order."""

    def __init__(self, data, tasks: list[str], weights: dict[str, float] | None = None):
        self.tasks = list(tasks)
        self.cols = [data.tasks.index(t) for t in self.tasks]
        self.types = [data.type_of(t) for t in self.tasks]
        self.infos = [data.task_info(t) for t in self.tasks]
        self.cfgs = [data.task_cfg.get(t, TaskConfig(t)) for t in self.tasks]
        self.weights = weights or {}
        self.trials = {t: data.trials.get(t, {}) for t in self.tasks}
        self.head_sizes = [data.head_size(t) for t in self.tasks]

    @property
    def needs_values(self) -> bool:
        return any(t.name == "regression" for t in self.types)

    def aux_modules(self) -> nn.ModuleDict:
        """Training-only modules (e.g. a verification task's margin classifier), built fresh."""
        mods = {t: typ.aux_module(info, cfg, h) for t, typ, info, cfg, h
                in zip(self.tasks, self.types, self.infos, self.cfgs, self.head_sizes)}
        return nn.ModuleDict({t: m for t, m in mods.items() if m is not None})

    def loss(self, aux: nn.ModuleDict | None = None) -> MultiTaskLoss:
        return MultiTaskLoss(self.tasks, self.weights, self.types, self.infos, self.cfgs, aux)

    def primary(self, task: str) -> str:
        return self.types[self.tasks.index(task)].primary

    def score(self, metrics: dict[str, dict]) -> float:
        """Early-stopping score: the mean over tasks of each type's higher-is-better goodness
        (accuracy for classification, so single-type runs stop on mean accuracy)."""
        return sum(typ.goodness(metrics[t], info)
                   for t, typ, info in zip(self.tasks, self.types, self.infos)) / len(self.tasks)

    def evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 v: torch.Tensor | None, index: torch.Tensor, frames: int,
                 split: str) -> dict[str, dict[str, float]]:
        """Metrics per task over the clips of `index` (a dataset split) labelled for it. `y` and
        `v` hold the job's columns."""
        return self.metrics(predict_outputs(model, x, index, frames), y, v, index, split)

    def metrics(self, outs: dict[str, torch.Tensor], y: torch.Tensor, v: torch.Tensor | None,
                index: torch.Tensor, split: str) -> dict[str, dict[str, float]]:
        """Metrics per task from the heads' outputs for the clips of `index` (on the CPU);
        `split` names the clips' split ("select" is part of validation)."""
        split = "test" if split == "test" else "val"          # whose verification trials
        labels = y[index].cpu().numpy()
        values = v[index].cpu().numpy() if v is not None else None
        rows = index.cpu().numpy()
        out = {}
        for j, (task, typ) in enumerate(zip(self.tasks, self.types)):
            mask = labels[:, j] >= 0
            trials = None
            if typ.name == "verification":
                trials = _local_trials(self.trials[task].get(split), rows)
                out[task] = typ.evaluate(outs[task], labels[:, j], None, self.infos[j], trials)
                continue
            labelled = outs[task][torch.from_numpy(mask)]
            out[task] = typ.evaluate(labelled, labels[mask, j],
                                     values[mask, j] if values is not None else None,
                                     self.infos[j], None)
            if split == "test":          # measured once per training: keep what diagnoses it
                out[task].update(typ.diagnostics(labelled, labels[mask, j], self.infos[j]))
        return out


def measured_splits(data, selection: str, device) -> dict[str, torch.Tensor]:
    """The clips of each role: "select" picks the best epoch, "val" measures the model (every
    drop and decision), "test" reports it. With selection "all" (as before that option) or
    "last" (nothing is selected) the first two are the whole validation split."""
    if selection == "half":
        select, decide = data.val_halves()
    else:
        select = decide = data.indices("val")
    return {"select": select.to(device), "val": decide.to(device),
            "test": data.indices("test").to(device)}


def _local_trials(trials: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    """Trial pairs in dataset rows -> positions among the evaluated rows (pairs outside dropped)."""
    if trials is None:
        return None
    pos = np.full(int(max(rows.max(initial=-1), trials[:, :2].max(initial=-1))) + 1, -1)
    pos[rows] = np.arange(len(rows))
    a, b = pos[trials[:, 0]], pos[trials[:, 1]]
    keep = (a >= 0) & (b >= 0)
    return np.stack([a[keep], b[keep], trials[keep, 2]], axis=1)


@torch.no_grad()
def predict_outputs(model: nn.Module, x: torch.Tensor, index: torch.Tensor,
                    frames: int) -> dict[str, torch.Tensor]:
    """Every head's raw output for the clips of `index`, on the CPU, float32."""
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    for xb in eval_batches(x, index, frames):
        for task, out in model(xb).items():
            parts.setdefault(task, []).append(out.float().cpu())
    return {t: torch.cat(p) for t, p in parts.items()}


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, index: torch.Tensor, frames: int) -> dict[str, np.ndarray]:
    """Classification: the predicted class per clip."""
    return {t: o.argmax(dim=1).numpy() for t, o in predict_outputs(model, x, index, frames).items()}


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor,
             tasks: list[str], frames: int) -> dict[str, dict[str, float]]:
    """Classification metrics per task over the clips of `index` labelled for it (`y` columns
    follow `tasks`). Tasks of other types go through `TaskSet.evaluate`."""
    typ = task_type("classification")
    outs = predict_outputs(model, x, index, frames)
    labels = y[index].cpu().numpy()
    result = {}
    for j, task in enumerate(tasks):
        mask = labels[:, j] >= 0
        result[task] = typ.evaluate(outs[task][torch.from_numpy(mask)], labels[mask, j], None, {}, None)
    return result
