"""Sparse sharing (Sun et al., AAAI 2020): one network, one binary mask per task, joint
training in which each step takes a batch of one task (tasks in turn, clips labelled for it),
uses only that task's mask and updates only the weights inside it.

Exact restriction of the updates: every task has its own AdamW (its own moments, steps and
schedule) over the trunk and its own head; after its step, the masked weights outside its mask
are copied back, which undoes the weight decay (the only thing that moves them: their gradient
is exactly 0, so their moments in that optimizer stay 0). Other heads are in no other task's
optimizer. Norms are shared and updated by every task, like the trunk in flat sharing.

Size: non-zero params = the union of the task masks + heads and norms (`union_size`)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn

from ..config import TrainConfig
from ..data.dataset import Dataset
from ..models import TreeModel, build_model
from ..records import TrainRecord
from ..training.batches import train_batches
from ..training.device import autocast, on_device, resolve_device, seed_everything
from ..training.fit import fit
from ..training.job import TrainJob
from ..training.multitask import TaskSet, measured_splits
from ..training.optim import make_optimizer, make_schedule
from .masks import (Masks, alive_count, apply_masks, apply_task_masks, originals, plain_state,
                    tensors_hash)


def union_size(masks: dict[str, Masks]) -> tuple[int, int]:
    """(weights kept by at least one task, prunable weights the masks cover)."""
    kept = covered = 0
    for name in dict.fromkeys(n for m in masks.values() for n in m):
        ms = [m[name] for m in masks.values() if name in m]
        union = torch.stack(ms).any(dim=0)
        kept += int(union.sum())
        covered += union.numel()
    return kept, covered


class SparseSharing:
    """The per-task optimisers and the one-task step of sparse sharing on a flat TreeModel."""

    def __init__(self, model: TreeModel, masks: dict[str, Masks], losses: dict,
                 cfg: TrainConfig, steps: dict[str, int], aux: nn.ModuleDict | None = None):
        self.model, self.cfg, self.tasks = model, cfg, list(model.tasks)
        shared = [n for n in masks[self.tasks[0]] if all(n in masks[t] for t in self.tasks)]
        self.switches = apply_task_masks(model, [{n: masks[t][n] for n in shared}
                                                 for t in self.tasks])
        for t in self.tasks:                               # a pruned head has its own mask only
            apply_masks(model, {n: m for n, m in masks[t].items() if n not in shared})
        orig = originals(model)
        self.keep = {t: [(orig[n], m.to(orig[n].device).bool()) for n, m in masks[t].items()]
                     for t in self.tasks}
        trunk = [p for n, p in model.named_parameters() if not n.startswith("heads.")]
        aux = aux if aux is not None else nn.ModuleDict()
        self.groups = {t: trunk + list(model.heads[t].parameters())
                       + (list(aux[t].parameters()) if t in aux else []) for t in self.tasks}
        self.opts = {t: make_optimizer(g, cfg) for t, g in self.groups.items()}
        self.scheds = {t: make_schedule(self.opts[t], cfg, steps[t]) for t in self.tasks}
        self.losses = losses

    def select(self, task: str) -> None:
        for s in self.switches:
            s.active = self.tasks.index(task)

    def step(self, task: str, x: torch.Tensor, y) -> torch.Tensor:
        """One step on a batch of `task` (y: its labels (B, 1), or labels and values): its
        mask, its optimiser."""
        self.select(task)
        with autocast(self.cfg, x.device):
            out = self.model(x)[task].float()
        loss = self.losses[task]({task: out}, y)
        self.model.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.groups[task], self.cfg.grad_clip)
        before = [p.detach().clone() for p, _ in self.keep[task]]
        self.opts[task].step()
        self.scheds[task].step()
        with torch.no_grad():
            for (p, inside), old in zip(self.keep[task], before):
                p.copy_(torch.where(inside, p, old))        # outside the mask: bit-identical
        return loss.detach()

    def view(self, task: str) -> nn.Module:
        return _TaskView(self, task)

    def union_state(self) -> dict:
        """A plain state dict whose masked weights are kept where any task's mask keeps them."""
        state = plain_state(self.model)
        for name, p in originals(self.model).items():
            inside = torch.stack([m for t in self.tasks for q, m in self.keep[t] if q is p]).any(0)
            state[name] = (p.detach() * inside).cpu()
        return state


class _TaskView(nn.Module):
    """The network as task `task` sees it: its mask, its head only."""

    def __init__(self, ss: SparseSharing, task: str):
        super().__init__()
        self.ss, self.task, self.model = ss, task, ss.model

    def forward(self, x):
        self.ss.select(self.task)
        with autocast(self.ss.cfg, x.device):
            return {self.task: self.model(x)[self.task].float()}


class SparseTrainee:
    """Sparse sharing as a trainee of `fit`: in an epoch the tasks take turns, a batch each,
    until every task's clips are through; validation is each task through its own mask."""

    size = 1

    def __init__(self, ss: SparseSharing, batches: Callable[[str], Iterable], clips: dict[str, int],
                 evaluate: Callable[[str], dict], score: Callable[[dict], float]):
        self.ss, self.batches, self.clips, self.evaluate, self.score = \
            ss, batches, clips, evaluate, score

    def train_epoch(self, epoch: int) -> list[float]:
        self.ss.model.train()
        batches = {t: iter(self.batches(t)) for t in self.ss.tasks}
        active = [t for t in self.ss.tasks if self.clips[t]]
        total, count = 0.0, 0
        while active:                                 # tasks in turn until all are through
            for t in list(active):
                batch = next(batches[t], None)
                if batch is None:
                    active.remove(t)
                    continue
                total, count = total + self.ss.step(t, *batch), count + 1
        return [float(total) / max(1, count)]

    def validate(self) -> list[float]:
        self.ss.model.eval()
        return [self.score(self.evaluate("select"))]

    def snapshot(self, member: int) -> dict:
        return copy.deepcopy(self.ss.model.state_dict())

    def restore(self, member: int, state: dict) -> None:
        self.ss.model.load_state_dict(state)


def train_sparse_sharing(job: "SparseSharingJob", data: Dataset) -> tuple[TrainRecord, dict]:
    device = resolve_device(job.train.device)
    tasks = list(job.spec.tasks)
    col = {t: data.tasks.index(t) for t in tasks}
    x, y_all, v_all = on_device(data, device)
    train = data.indices("train").to(device)
    rows = {t: train[y_all[train, col[t]] >= 0] for t in tasks}
    weights = dict(job.weights)
    one = {t: TaskSet(data, [t], {t: weights.get(t, 1.0)}) for t in tasks}   # each task alone
    ys = {t: y_all[:, [col[t]]] for t in tasks}
    vs = {t: v_all[:, [col[t]]] if v_all is not None and one[t].needs_values else None
          for t in tasks}

    seed_everything(job.seed)                        # θ0: the flat model's initial weights
    model = build_model(job.spec, job.model, {t: data.head_size(t) for t in tasks},
                        data.x.shape[1], data.frames)
    model.set_input_stats(data.mean, data.std)
    model.to(device)
    aux = TaskSet(data, tasks).aux_modules().to(device)   # e.g. margin classifiers: training only
    masks = {t: dict(m) for t, m in job.masks}
    bs = job.train.batch_size
    ss = SparseSharing(model, masks, {t: one[t].loss(aux) for t in tasks}, job.train,
                       {t: max(1, -(-len(rows[t]) // bs)) for t in tasks}, aux)
    generator = torch.Generator(device=device)
    generator.manual_seed(job.seed + 1)

    clips = measured_splits(data, job.train.selection, device)

    def evaluate(role: str) -> dict:
        return {t: one[t].evaluate(ss.view(t), x, ys[t], vs[t], clips[role], data.frames, role)[t]
                for t in tasks}

    def score(val: dict) -> float:
        return sum(one[t].score({t: val[t]}) for t in tasks) / len(tasks)

    begin = time.perf_counter()
    trainee = SparseTrainee(ss, lambda t: train_batches(x, ys[t], rows[t], bs, data.frames,
                                                        generator, vs[t]),
                            {t: len(r) for t, r in rows.items()}, evaluate, score)
    [result] = fit(trainee, job.train)
    model.eval()
    seconds = time.perf_counter() - begin
    params, _ = cost = model.cost()
    kept, covered = union_size(masks)
    record = job.record(cost, evaluate("val"), evaluate("test"), result, seconds, str(device),
                        select=evaluate("select") if job.train.selection == "half" else None,
                        nonzero_params=params - covered + kept,
                        extra={"masks": {t: alive_count(m) for t, m in masks.items()}, "union": kept})
    return record, ss.union_state()


@dataclass(frozen=True)
class SparseSharingJob(TrainJob):
    """Joint sparse-sharing training of a flat spec with one mask per task."""

    masks: tuple = field(default=(), compare=False, repr=False)   # ((task, ((name, tensor), …)), …)

    packable = False

    def identity(self) -> dict:
        return {**super().identity(),
                "sparse_sharing": {"masks": {t: tensors_hash(m) for t, m in self.masks}}}

    def execute(self, data: Dataset) -> tuple[TrainRecord, dict]:
        return train_sparse_sharing(self, data)
