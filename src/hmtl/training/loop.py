"""One plain training loop. Nothing in it knows about tasks or trees: it gets a model, batches,
a loss function and a validation score (higher = better), and returns the best weights."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn

from ..config import TrainConfig


class StopTraining(Exception):
    """Raised by an epoch callback to end training now; with keep_current, the current weights
    are the result instead of the best ones (e.g. a rewind point after k epochs)."""

    def __init__(self, keep_current: bool = False):
        super().__init__()
        self.keep_current = keep_current


@dataclass
class FitResult:
    best_score: float
    best_epoch: int
    epochs: int
    history: list[dict] = field(default_factory=list)


def make_optimizer(params: list, cfg: TrainConfig, capturable: bool = False) -> torch.optim.Optimizer:
    """AdamW; the fused kernel on CUDA (one launch instead of one per tensor and operation).
    `capturable` (CUDA graphs): step count and learning rate live on the device, the rate as a
    tensor that the schedule fills in place, so that a captured step reads the current rate."""
    cuda = bool(params) and params[0].is_cuda
    if capturable:
        lr = torch.tensor(float(cfg.lr), device=params[0].device)
        return torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay, fused=True,
                                 capturable=True)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                             **({"fused": True} if cuda else {}))


def lr_factor(cfg: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """The configured schedule as a factor of the peak rate, per optimizer step."""
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = int(cfg.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if cfg.schedule == "constant":
            return 1.0
        if cfg.schedule == "step":
            return cfg.step_gamma ** (step // (cfg.step_epochs * steps_per_epoch))
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


class TensorLR:
    """The schedule of a capturable optimizer: fills its lr tensors in place, as LambdaLR sets
    a float rate (LambdaLR would read a tensor rate back to the host at every step)."""

    def __init__(self, opt: torch.optim.Optimizer, factor: Callable[[int], float], base: float):
        self.opt, self.factor, self.base, self.steps = opt, factor, base, 0
        self._fill()

    def _fill(self) -> None:
        for group in self.opt.param_groups:
            group["lr"].fill_(self.base * self.factor(self.steps))

    def step(self) -> None:
        self.steps += 1
        self._fill()


def make_schedule(opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
    factor = lr_factor(cfg, steps_per_epoch)
    if isinstance(opt.param_groups[0]["lr"], torch.Tensor):
        return TensorLR(opt, factor, cfg.lr)
    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def fit(model: nn.Module, batches: Callable[[int], Iterable[tuple]],
        loss_fn: Callable[[dict, torch.Tensor], torch.Tensor],
        score_fn: Callable[[nn.Module], float], cfg: TrainConfig, steps_per_epoch: int,
        on_epoch: Callable[[dict], None] | None = None) -> FitResult:
    """Train with AdamW, the configured schedule, gradient clipping and early stopping on
    `score_fn`; the model ends with its best-scoring weights."""
    opt = make_optimizer(list(model.parameters()), cfg)
    sched = make_schedule(opt, cfg, steps_per_epoch)
    best_score, best_epoch, best_state = -math.inf, 0, None
    history = []
    epoch = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        total, count = torch.zeros(()), 0
        for x, y in batches(epoch):
            loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            total = total.to(loss.device) + loss.detach()   # no sync per step
            count += 1
        model.eval()
        score = score_fn(model)
        record = {"epoch": epoch, "loss": float(total) / max(1, count), "score": score}
        history.append(record)
        if on_epoch is not None:
            try:
                on_epoch(record)
            except StopTraining as stop:
                if stop.keep_current:
                    best_state, best_score, best_epoch = None, score, epoch
                else:
                    if score > best_score:
                        best_score, best_epoch = score, epoch
                        best_state = copy.deepcopy(model.state_dict())
                break
        if score > best_score:
            best_score, best_epoch = score, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= cfg.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(best_score, best_epoch, epoch, history)
