"""Task types: what a task's labels are, what its head outputs, how it is trained and measured.

    classification  labels are classes; cross-entropy; accuracy and macro-F1 (primary: accuracy)
    regression      labels are numbers (e.g. age in years); L1 or MSE on the standardised target;
                    MAE in the label's unit and Pearson r (primary: MAE, lower is better)
    verification    labels are identities (e.g. speakers); an embedding head trained with an
                    additive-margin softmax over the training identities; equal error rate on
                    trial pairs of held-out clips (primary: EER, lower is better)

Every metric's direction and unit come from hmtl.metrics, so that a "drop" (positive = worse) and
a tolerance are defined for every task in the metric's own unit."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .metrics import (CONFUSION, METRICS, PER_CLIP, TYPE_PRIMARY, MetricSpec, accuracy,
                      confusion_matrix, macro_f1)


@dataclass
class TaskInfo:
    """What a task's head, loss and metrics need from the training data beyond its labels
    (data/meta.json's "info", one per task; fields a type does not use stay None)."""

    classes: list[str] | None = None         # classification, verification: class / identity names
    mean: float | None = None                # regression: the training targets' mean and std
    std: float | None = None
    mad: float | None = None                 #   and the mean absolute error of their median
    train_classes: list[str] | None = None   # verification: identities of the training split
    train_ids: list[int] | None = None       #   and their indices among `classes`
    train_index: torch.Tensor | None = field(default=None, repr=False, compare=False)
    #   verification, derived: identity index -> margin-classifier class (-1: not in training)

    def __post_init__(self):
        if self.train_ids is not None and self.train_index is None:
            lookup = torch.full((len(self.classes),), -1, dtype=torch.long)
            lookup[torch.tensor(self.train_ids, dtype=torch.long)] = torch.arange(len(self.train_ids))
            self.train_index = lookup

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "train_index" and getattr(self, f.name) is not None}

    @classmethod
    def from_json(cls, data: dict) -> "TaskInfo":
        return cls(**{k: v for k, v in data.items() if k != "train_index"})


class TaskType:
    name = "base"
    primary = ""
    metrics: tuple[MetricSpec, ...] = ()

    def metric(self, name: str) -> MetricSpec:
        return next(m for m in self.metrics if m.name == name)

    def head_size(self, info: TaskInfo, cfg) -> int:
        raise NotImplementedError

    def aux_module(self, info: TaskInfo, cfg, head_size: int) -> nn.Module | None:
        """A training-only module (not part of the deployed model), e.g. a margin classifier."""
        return None

    def loss(self, out: torch.Tensor, y: torch.Tensor, v: torch.Tensor, info: TaskInfo, cfg,
             aux: nn.Module | None) -> torch.Tensor:
        """Per-clip loss (B,); rows that are unlabelled (y < 0) are masked by the caller."""
        raise NotImplementedError

    def evaluate(self, out: torch.Tensor, y: np.ndarray, v: np.ndarray, info: TaskInfo,
                 trials: np.ndarray | None) -> dict[str, float]:
        raise NotImplementedError

    def goodness(self, metrics: dict[str, float], info: TaskInfo) -> float:
        """A higher-is-better number near [0, 1] for early stopping on mixed tasks."""
        raise NotImplementedError

    def diagnostics(self, out: torch.Tensor, y: np.ndarray, info: TaskInfo) -> dict:
        """What a final model's test metrics keep beyond the metrics themselves, for the
        report's diagnostics (e.g. a confusion matrix); nothing by default."""
        return {}


class Classification(TaskType):
    name = "classification"
    primary = TYPE_PRIMARY[name]
    metrics = (METRICS["accuracy"], METRICS["macro_f1"])

    def head_size(self, info, cfg) -> int:
        return len(info.classes)

    def loss(self, out, y, v, info, cfg, aux):
        return F.cross_entropy(out, y.clamp(min=0), reduction="none")

    def evaluate(self, out, y, v, info, trials):
        pred = out.argmax(dim=1).cpu().numpy()
        return {"accuracy": accuracy(y, pred), "macro_f1": macro_f1(y, pred), "n": int(len(y)),
                PER_CLIP: "".join("1" if ok else "0" for ok in (pred == y))}

    def goodness(self, metrics, info):
        return metrics["accuracy"]

    def diagnostics(self, out, y, info):
        """The confusion matrix over every class of the head (rows: true classes)."""
        return {CONFUSION: confusion_matrix(y, out.argmax(dim=1).cpu().numpy(), out.shape[1])}


class Regression(TaskType):
    name = "regression"
    primary = TYPE_PRIMARY[name]
    metrics = (METRICS["mae"], METRICS["pearson_r"])

    def head_size(self, info, cfg) -> int:
        return 1

    def loss(self, out, y, v, info, cfg, aux):
        target = (torch.nan_to_num(v) - info.mean) / info.std
        pred = out[:, 0]
        if cfg.loss == "mse":
            return (pred - target) ** 2
        return (pred - target).abs()

    @staticmethod
    def values(out: torch.Tensor, info: TaskInfo) -> np.ndarray:
        return out[:, 0].float().cpu().numpy() * info.std + info.mean

    def evaluate(self, out, y, v, info, trials):
        pred = self.values(out, info)
        mae = float(np.abs(pred - v).mean()) if len(v) else float("nan")
        r = float(np.corrcoef(pred, v)[0, 1]) if len(v) > 1 and pred.std() > 0 and v.std() > 0 \
            else 0.0
        return {"mae": mae, "pearson_r": r, "n": int(len(v)),
                PER_CLIP: [round(float(e), 5) for e in np.abs(pred - v)]}

    def goodness(self, metrics, info):
        return 1.0 - metrics["mae"] / info.mad      # 0: as good as predicting the median


class Verification(TaskType):
    name = "verification"
    primary = TYPE_PRIMARY[name]
    metrics = (METRICS["eer"],)

    def head_size(self, info, cfg) -> int:
        return cfg.embedding_dim

    def aux_module(self, info, cfg, head_size):
        return MarginClassifier(head_size, len(info.train_classes))

    def loss(self, out, y, v, info, cfg, aux):
        index = info.train_index.to(y.device)[y.clamp(min=0)]     # training identities
        ok = index >= 0
        loss = aux(out, index.clamp(min=0), cfg.margin, cfg.scale)
        return loss * ok                                                  # others teach nothing

    def evaluate(self, out, y, v, info, trials):
        if trials is None or len(trials) == 0:
            return {"eer": float("nan"), "trials": 0, "n": int(len(y))}
        emb = F.normalize(out.float(), dim=1).cpu()
        scores = (emb[trials[:, 0]] * emb[trials[:, 1]]).sum(dim=1).numpy()
        return {"eer": equal_error_rate(scores, trials[:, 2].astype(bool)), "trials": int(len(trials)),
                "n": int(len(y))}

    def goodness(self, metrics, info):
        return 1.0 - metrics["eer"] if not math.isnan(metrics["eer"]) else 0.0


class MarginClassifier(nn.Module):
    """Additive-margin softmax (CosFace, Wang et al. 2018) over the training identities: the
    embedding learns to separate identities by angle, which is what the cosine trials score."""

    def __init__(self, dim: int, classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim) * 0.01)

    def forward(self, emb: torch.Tensor, target: torch.Tensor, margin: float, scale: float):
        cos = F.normalize(emb.float(), dim=1) @ F.normalize(self.weight, dim=1).t()   # (B, K)
        logits = scale * (cos - margin * F.one_hot(target, cos.shape[1]))
        return F.cross_entropy(logits, target, reduction="none")


def equal_error_rate(scores: np.ndarray, same: np.ndarray) -> float:
    """The error rate where false acceptances equal false rejections (a trial is accepted when
    its score reaches the threshold), interpolated linearly between thresholds. 0 for a perfect
    scorer, about 0.5 for a random one. O(n log n)."""
    same = np.asarray(same, dtype=bool)
    n_pos, n_neg = int(same.sum()), int((~same).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    s, lab = np.asarray(scores)[order], same[order]
    # candidate thresholds: below everything, between distinct scores, above everything
    cut = np.concatenate([[0], np.flatnonzero(np.diff(s) > 0) + 1, [len(s)]])
    pos_below = np.concatenate([[0], np.cumsum(lab)])[cut]        # rejected positives
    neg_below = np.concatenate([[0], np.cumsum(~lab)])[cut]
    frr = pos_below / n_pos                                      # rises with the threshold
    far = (n_neg - neg_below) / n_neg                            # falls with the threshold
    diff = far - frr
    k = int(np.argmax(diff <= 0))
    if k == 0:
        return float((far[0] + frr[0]) / 2)
    d0, d1 = diff[k - 1], diff[k]
    w = d0 / (d0 - d1) if d0 != d1 else 0.5
    return float(far[k - 1] + w * (far[k] - far[k - 1]))


TASK_TYPES: dict[str, TaskType] = {t.name: t for t in (Classification(), Regression(), Verification())}


def task_type(name: str) -> TaskType:
    return TASK_TYPES[name]

