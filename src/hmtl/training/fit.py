"""One fit for every training: the epoch loop, early stopping and the best weights.

Nothing here knows about tasks, trees or how a step is taken. A `Trainee` is one model or
several trained side by side (a pack): it trains one epoch, scores each member on validation
(higher = better), and copies a member's weights out and back in. `fit` keeps, per member, the
best-scoring weights and stops a member after `patience` epochs without a better score; the
loop ends when every member has stopped or the epochs are spent. Every member ends with its best
weights, or, with `train.selection: last`, with those of its last epoch (no early stopping):
then no validation clip has picked anything, so all of them can measure the model unbiased."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ..config import TrainConfig


class StopTraining(Exception):
    """Raised by an epoch callback to end a member's training now; with keep_current, the
    current weights are the result instead of the best ones (e.g. a rewind point after k
    epochs)."""

    def __init__(self, keep_current: bool = False):
        super().__init__()
        self.keep_current = keep_current


class Trainee(Protocol):
    size: int                   # models trained side by side (members)

    def train_epoch(self, epoch: int) -> list[float]:
        """One epoch of every member; each member's mean training loss."""

    def validate(self) -> list[float]:
        """Each member's validation score, higher is better."""

    def snapshot(self, member: int) -> Any:
        """A copy of a member's current weights."""

    def restore(self, member: int, state: Any) -> None:
        """Put weights from `snapshot` back."""

    # optional: keep(active) after each epoch, the members still training (a pack drops the
    # others; their losses and scores are not read again, and restore still reaches them)


@dataclass
class FitResult:
    best_score: float
    best_epoch: int
    epochs: int
    history: list[dict] = field(default_factory=list)


OnEpoch = Callable[[dict], None]     # gets {"member", "epoch", "loss", "score"}; may raise StopTraining


def fit(trainee: Trainee, cfg: TrainConfig, on_epoch: OnEpoch | None = None) -> list[FitResult]:
    """Train until every member has stopped (patience) or cfg.epochs are done; each member ends
    with its best weights. One FitResult per member."""
    k = trainee.size
    last = cfg.selection == "last"
    results = [FitResult(-math.inf, 0, 0) for _ in range(k)]
    best: list[Any] = [None] * k
    active = list(range(k))
    for epoch in range(1, cfg.epochs + 1):
        losses = trainee.train_epoch(epoch)
        scores = trainee.validate()
        for i in list(active):
            r, score = results[i], scores[i]
            r.epochs = epoch
            record = {"epoch": epoch, "loss": losses[i], "score": score}
            r.history.append(record)
            stop = None
            if on_epoch is not None:
                try:
                    on_epoch({"member": i, **record})
                except StopTraining as raised:
                    stop = raised
            if last or score > r.best_score or (stop is not None and stop.keep_current):
                r.best_score, r.best_epoch = score, epoch
                if not last:                          # with last, the current weights stay
                    best[i] = trainee.snapshot(i)
                if stop is not None:
                    active.remove(i)
            elif stop is not None or epoch - r.best_epoch >= cfg.patience:
                active.remove(i)
        if not active:
            break
        keep = getattr(trainee, "keep", None)
        if keep is not None and len(active) < k:
            keep(list(active))
    for i, state in enumerate(best):
        if state is not None:
            trainee.restore(i, state)
    return results
