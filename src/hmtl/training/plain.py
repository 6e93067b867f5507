"""One model trained by itself: the reference every other way of training matches.

`PlainTrainee` takes the plain optimizer step (AdamW, the schedule, gradient clipping) over
batches straight from the in-memory tensors; `train_job` builds a job's model and trains it with
`fit`, then measures it on validation and test."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Callable, Iterable

import torch
from torch import nn

from ..config import TrainConfig
from ..data.dataset import Dataset
from ..models import build_model
from ..records import TrainRecord
from ..utils.progress import bar, epoch_bars_wanted
from .batches import train_batches
from .device import Autocast, compiled, on_device, resolve_device, seed_everything
from .fit import OnEpoch, fit
from .multitask import TaskSet, measured_splits
from .optim import make_optimizer, make_schedule

if TYPE_CHECKING:
    from .job import TrainJob


class PlainTrainee:
    """One model, one optimizer: a member of `fit`."""

    size = 1

    def __init__(self, model: nn.Module, batches: Callable[[int], Iterable[tuple]],
                 loss_fn: Callable[[dict, torch.Tensor], torch.Tensor],
                 score_fn: Callable[[nn.Module], float], cfg: TrainConfig, steps_per_epoch: int):
        self.model, self.batches, self.loss_fn, self.score_fn, self.cfg = \
            model, batches, loss_fn, score_fn, cfg
        self.opt = make_optimizer(list(model.parameters()), cfg)
        self.sched = make_schedule(self.opt, cfg, steps_per_epoch)

    def train_epoch(self, epoch: int) -> list[float]:
        self.model.train()
        total, count = torch.zeros(()), 0
        for x, y in self.batches(epoch):
            loss = self.loss_fn(self.model(x), y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
            self.opt.step()
            self.sched.step()
            total = total.to(loss.device) + loss.detach()   # no sync per step
            count += 1
        return [float(total) / max(1, count)]

    def validate(self) -> list[float]:
        self.model.eval()
        return [self.score_fn(self.model)]

    def snapshot(self, member: int) -> dict:
        return copy.deepcopy(self.model.state_dict())

    def restore(self, member: int, state: dict) -> None:
        self.model.load_state_dict(state)


class WithAux(torch.nn.Module):
    """The model plus its training-only modules (e.g. a margin classifier), so that one
    optimizer and one best-state snapshot cover both; only the model is saved."""

    def __init__(self, model: torch.nn.Module, aux: torch.nn.ModuleDict):
        super().__init__()
        self.model, self.aux = model, aux

    def forward(self, x):
        return self.model(x)


def train_job(job: "TrainJob", data: Dataset, on_epoch: OnEpoch | None = None, init=None,
              return_model: bool = False):
    """Train one job; returns (record, state_dict) (and the model, if asked). Deterministic for
    a seed on one device. `init(model)` runs before training (warm start, masks); `on_epoch` may
    raise fit.StopTraining."""
    device = resolve_device(job.train.device)
    tasks = list(job.spec.tasks)
    taskset = TaskSet(data, tasks, dict(job.weights))
    x, y_all, v_all = on_device(data, device)
    y = y_all[:, taskset.cols]
    v = v_all[:, taskset.cols] if (v_all is not None and taskset.needs_values) else None
    train_idx = data.indices("train").to(device)
    clips = measured_splits(data, job.train.selection, device)
    # a clip none of the job's tasks label teaches it nothing
    train_idx = train_idx[(y[train_idx] >= 0).any(dim=1)]

    seed_everything(job.seed)
    model = build_model(job.spec, job.model, {t: data.head_size(t) for t in tasks},
                        data.x.shape[1], data.frames)
    model.set_input_stats(data.mean, data.std)
    if init is not None:
        init(model)  # e.g. weights of earlier models (warm start)
    aux = taskset.aux_modules()            # after the model: its initialisation stays the same
    trained = WithAux(model, aux) if len(aux) else model
    trained.to(device)
    generator = torch.Generator(device=device)
    generator.manual_seed(job.seed + 1)
    loss_fn = taskset.loss(aux if len(aux) else None)

    def measure(m, role: str) -> dict:
        return taskset.evaluate(m, x, y, v, clips[role], data.frames, role)

    def score(m):
        return taskset.score(measure(m, "select"))

    steps = max(1, -(-len(train_idx) // job.train.batch_size))
    epoch_bar = None
    if on_epoch is None and epoch_bars_wanted():
        epoch_bar = bar(job.train.epochs, desc=job.tag or "training", unit="epoch")

        def on_epoch(record):
            epoch_bar.update(1)
            epoch_bar.set_postfix_str(f"loss {record['loss']:.3f} val {record['score']:.3f}")
    start = time.perf_counter()
    runner = Autocast(trained, job.train, device) if job.train.precision == "bf16" else trained
    runner = compiled(runner, job.train)
    trainee = PlainTrainee(runner, lambda epoch: train_batches(x, y, train_idx, job.train.batch_size,
                                                               data.frames, generator, v),
                           loss_fn, score, job.train, steps)
    [result] = fit(trainee, job.train, on_epoch)
    model.eval()
    seconds = time.perf_counter() - start
    if epoch_bar is not None:
        epoch_bar.close()
    record: TrainRecord = job.record(
        model.cost(), measure(model, "val"), measure(model, "test"), result, seconds, str(device),
        select=measure(model, "select") if job.train.selection == "half" else None)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return (record, state, model) if return_model else (record, state)
