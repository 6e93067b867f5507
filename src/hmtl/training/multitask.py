"""What makes training multi-task: the summed per-task loss over the clips labelled for each
task, and per-task evaluation. The loop itself stays ignorant of both."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .batches import eval_batches
from .metrics import classification_metrics


class MultiTaskLoss:
    """Σ_t w_t · CE_t, each cross-entropy averaged over the batch's clips labelled for task t
    (label -1 = unlabelled). `y` columns follow `tasks`."""

    def __init__(self, tasks: list[str], weights: dict[str, float] | None = None):
        self.tasks = tasks
        self.weights = [float((weights or {}).get(t, 1.0)) for t in tasks]

    def __call__(self, outputs: dict[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        total = None
        for j, (task, w) in enumerate(zip(self.tasks, self.weights)):
            target = y[:, j]
            labelled = target >= 0
            if not labelled.any():
                continue
            loss = w * F.cross_entropy(outputs[task][labelled], target[labelled])
            total = loss if total is None else total + loss
        if total is None:  # a batch without any label for these tasks: nothing to learn
            total = sum(o.sum() * 0.0 for o in outputs.values())
        return total


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, index: torch.Tensor, frames: int) -> dict[str, np.ndarray]:
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    for xb in eval_batches(x, index, frames):
        for task, logits in model(xb).items():
            parts.setdefault(task, []).append(logits.argmax(dim=1).cpu())
    return {t: torch.cat(p).numpy() for t, p in parts.items()}


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor,
             tasks: list[str], frames: int) -> dict[str, dict[str, float]]:
    """Metrics per task over the clips of `index` labelled for it. `y` columns follow `tasks`."""
    preds = predict(model, x, index, frames)
    labels = y[index].cpu().numpy()
    out = {}
    for j, task in enumerate(tasks):
        mask = labels[:, j] >= 0
        out[task] = classification_metrics(labels[mask, j], preds[task][mask])
    return out
