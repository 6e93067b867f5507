"""The optimiser and the learning-rate schedule every training uses: AdamW, and the configured
schedule as a factor of the peak rate per optimizer step (on the device for CUDA graphs)."""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..config import TrainConfig


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
