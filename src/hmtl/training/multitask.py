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
        # Masked means instead of indexing the labelled rows: no host-device synchronisation
        # (a Python `if` on a CUDA value would stall the GPU every step).
        total = 0.0
        for j, (task, w) in enumerate(zip(self.tasks, self.weights)):
            target = y[:, j]
            labelled = target >= 0
            ce = F.cross_entropy(outputs[task], target.clamp(min=0), reduction="none")
            total = total + w * (ce * labelled).sum() / labelled.sum().clamp(min=1)
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
