"""Iterative magnitude pruning (Frankle & Carbin 2019), as jobs.

Round 0 is the dense single-task model, which is exactly stage 1's job (same seed, same
initial weights, same batches), so it is read back, never retrained. Round r ≥ 1 prunes the
smallest-magnitude remaining weights of round r−1's trained model (globally over the model's
prunable layers), rewinds every weight to the rewind point (the seed's initial weights, or the
weights after `rewind_epoch` epochs of the dense training: a `RewindJob`) and trains with the
masks in place: an `ImpJob`, whose identity holds the masks' hash, the round and the rewind
point, so every round is resumable and never trained twice. Rewound rounds train with the full
recipe (cfg.train) from their rewind point."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch

from ..config import ModelConfig
from ..data.dataset import Dataset
from ..errors import HmtlError
from ..models import TreeSpec
from ..records import TrainRecord
from ..search.context import Context
from ..training.fit import StopTraining
from ..training.job import TrainJob
from ..training.plain import train_job
from .masks import (Masks, alive_count, apply_masks, full_masks, plain_state, prunable_names,
                    save_masks, sparsity_report, tensors_hash)

# ----------------------------------------------------------------------------- masks from weights


def prune_by_magnitude(state: dict, masks: Masks, count: int) -> Masks:
    """Remove the `count` smallest |w| among the weights the masks keep, globally over the
    masked layers (ties: first in layer order, then position)."""
    names = list(masks)
    alive = torch.cat([masks[n].flatten() for n in names])
    if count <= 0:
        return {n: m.clone() for n, m in masks.items()}
    if count >= int(alive.sum()):
        raise HmtlError(f"cannot prune {count} of {int(alive.sum())} remaining weights")
    score = torch.cat([state[n].detach().float().abs().flatten().cpu() for n in names])
    score[~alive] = math.inf
    order = torch.argsort(score, stable=True)
    keep = alive.clone()
    keep[order[:count]] = False
    out, start = {}, 0
    for n in names:
        size = masks[n].numel()
        out[n] = keep[start:start + size].view_as(masks[n])
        start += size
    return out


def round_count(rate: float, alive: int) -> int:
    """Weights one full round removes: `rate` of the remaining, at least one, never the last."""
    if alive <= 1:
        return 0
    return min(alive - 1, max(1, int(math.floor(rate * alive + 0.5))))


def _share(excess: int, remaining: dict[str, int]) -> dict[str, int]:
    """Split `excess` over the tasks in proportion to their remaining weights (largest
    remainder), each task keeping at least one weight."""
    total = sum(remaining.values())
    raw = {t: excess * n / total for t, n in remaining.items()}
    cut = {t: min(int(math.floor(v)), remaining[t] - 1) for t, v in raw.items()}
    order = sorted(remaining, key=lambda t: raw[t] - math.floor(raw[t]), reverse=True)
    while sum(cut.values()) < excess:
        t = next(t for t in order if cut[t] < remaining[t] - 1)
        cut[t] += 1
        order = order[1:] + order[:1]
    return cut


def imp_schedule(prunable: dict[str, int], fixed: int, target: int,
                 rate: float) -> list[dict[str, int]]:
    """Prunable weights each task keeps after rounds 1, 2, …: `rate` of the remaining per round
    until the total non-zero parameters (fixed + kept) is at most `target`; the last round
    prunes exactly what is still needed, shared in proportion to what each task has left."""
    if target < fixed + len(prunable):
        raise HmtlError(f"baselines: a target of {target:,} parameters is below what pruning can "
                        f"reach ({fixed + len(prunable):,}: heads, norms and one weight per "
                        f"model); raise baselines.target_params or set baselines.prune_heads")
    remaining, rounds = dict(prunable), []
    while fixed + sum(remaining.values()) > target:
        excess = fixed + sum(remaining.values()) - target
        full = {t: round_count(rate, n) for t, n in remaining.items()}
        cut = _share(excess, remaining) if sum(full.values()) >= excess else full
        remaining = {t: n - cut[t] for t, n in remaining.items()}
        rounds.append(dict(remaining))
    return rounds


# ----------------------------------------------------------------------------- training with masks

def train_masked(job: TrainJob, data: Dataset, masks: Masks, start: dict | None = None,
                 stop_after: int | None = None) -> tuple[TrainRecord, dict]:
    """train_job with masks: the seed's model, optionally loaded with `start` weights, masked,
    trained with the run's recipe. With `stop_after`, training stops after that epoch and the
    weights of that moment are the result (a rewind point)."""

    def init(model) -> None:              # the very initial weights stage 1 trained from
        if start:
            model.load_state_dict(start)
        apply_masks(model, masks)

    def on_epoch(rec: dict) -> None:
        if stop_after is not None and rec["epoch"] >= stop_after:
            raise StopTraining(keep_current=True)

    record, _, model = train_job(job, data, on_epoch=on_epoch if stop_after else None, init=init,
                                 return_model=True)
    report = sparsity_report(masks, record.params)
    record.nonzero_params = report["nonzero_params"]
    record.extra["sparsity"] = report["total"]
    return record, plain_state(model)


@dataclass(frozen=True)
class RewindJob(TrainJob):
    """The first `epoch` epochs of a dense training: its weights are a rewind point."""

    epoch: int = 1

    packable = False

    def identity(self) -> dict:
        return {**super().identity(), "rewind": {"epoch": self.epoch}}

    def execute(self, data: Dataset) -> tuple[TrainRecord, dict]:
        return train_masked(self, data, {}, None, stop_after=self.epoch)


@dataclass(frozen=True)
class ImpJob(TrainJob):
    """One round of iterative magnitude pruning: train from the rewind point with masks."""

    round: int = 1
    rewind_epoch: int = 0
    masks: tuple = field(default=(), compare=False, repr=False)   # ((name, bool tensor), …)
    start: tuple = field(default=(), compare=False, repr=False)   # ((key, tensor), …); () = init

    packable = False

    def identity(self) -> dict:
        return {**super().identity(),
                "imp": {"round": self.round, "rewind_epoch": self.rewind_epoch,
                        "mask": tensors_hash(self.masks),
                        "start": tensors_hash(self.start) if self.start else "init"}}

    def execute(self, data: Dataset) -> tuple[TrainRecord, dict]:
        return train_masked(self, data, dict(self.masks), dict(self.start) or None)


# ----------------------------------------------------------------------------- the IMP driver

class Imp:
    """IMP of every task's single-task model, r seeds, one round at a time through the
    executor. Keys are (task, seed)."""

    def __init__(self, ctx: Context, label: str, model: ModelConfig | None = None):
        self.ctx, self.label = ctx, label
        self.model = model or ctx.cfg.model            # another width: not stage 1's models
        b = ctx.cfg.baselines
        self.rate, self.rewind_epoch, self.heads = b.pruning_rate, b.rewind_epoch, b.prune_heads
        self.keys = [(t, s) for t in ctx.tasks for s in ctx.seeds]
        self.spec = {t: TreeSpec.single(t, ctx.depth) for t in ctx.tasks}
        models = {t: ctx.build_model(self.spec[t], self.model) for t in ctx.tasks}
        self.names = {t: prunable_names(m, self.heads) for t, m in models.items()}
        self.params = {t: m.cost()[0] for t, m in models.items()}
        self.macs = {t: m.cost()[1] for t, m in models.items()}
        self.empty = {t: full_masks(m, self.heads) for t, m in models.items()}
        self.prunable = {t: alive_count(self.empty[t]) for t in ctx.tasks}
        self.starts: dict[tuple, tuple] = {}
        self.trainings = 0

    def job(self, task: str, seed: int, tag: str) -> TrainJob:
        """The task's single-task job with this IMP's model config."""
        return dataclasses.replace(self.ctx.job(self.spec[task], seed, tag), model=self.model)

    def dense(self) -> dict[tuple, tuple[TrainJob, dict]]:
        """Round 0: the dense single-task models (stage 1's, read back, when the model config is
        the run's); the rewind points if asked for."""
        own = self.model == self.ctx.cfg.model
        jobs = {k: self.job(k[0], k[1], f"stage1 {k[0]}" if own else f"{self.label} {k[0]} dense")
                for k in self.keys}
        recs = self.ctx.run(list(jobs.values()), desc=f"{self.label}: dense models")
        if self.rewind_epoch:
            rewind = {k: RewindJob(**job_fields(j), tag=f"{self.label} {k[0]} rewind",
                                   epoch=self.rewind_epoch) for k, j in jobs.items()}
            self.ctx.run(list(rewind.values()), desc=f"{self.label}: rewind points")
            self.trainings += len(rewind)
            self.starts = {k: tuple(self.ctx.store.load_state(j).items()) for k, j in rewind.items()}
        return {k: (jobs[k], r) for k, r in zip(jobs, recs)}

    def prune(self, job: TrainJob, masks: Masks, count: int) -> Masks:
        return prune_by_magnitude(self.ctx.store.load_state(job), masks, count)

    def train(self, round_: int, masks: dict[tuple, Masks]) -> dict[tuple, tuple[TrainJob, dict]]:
        """Train one round for the given keys; masks and a sparsity report go next to each
        job's model.pt."""
        jobs = {k: ImpJob(**job_fields(self.job(k[0], k[1], "")),
                          tag=f"{self.label} {k[0]} round {round_}", round=round_,
                          rewind_epoch=self.rewind_epoch, masks=tuple(m.items()),
                          start=self.starts.get(k, ())) for k, m in masks.items()}
        recs = self.ctx.run(list(jobs.values()), desc=f"{self.label}: round {round_}")
        self.trainings += len(jobs)
        for k, job in jobs.items():
            folder = self.ctx.store.folder(job)
            if not (folder / "masks.pt").exists():
                save_masks(folder, masks[k], sparsity_report(masks[k], self.params[k[0]]))
        return {k: (jobs[k], r) for k, r in zip(jobs, recs)}


def job_fields(job: TrainJob) -> dict:
    return {"spec": job.spec, "seed": job.seed, "model": job.model, "train": job.train,
            "weights": job.weights, "data_key": job.data_key}
