"""Packed training: K small models of the same shape trained at once, as one network
(packing.py), by the same `fit` as one model.

Each member is its job's own model, initialised as the unpacked model of its seed, reading the
batches of its own seed's generator, trained on its tasks' own losses and measured by their own
metrics (any task type), with its own early stopping and best weights; AdamW is elementwise and
gradient clipping is per member. So a packed job is the same job as an unpacked one (up to
float rounding and dropout masks), and is stored the same way.

What packs together: jobs whose specs have the same shape once task names are replaced by
their position (e.g. all pair models of one depth, all seeds of one spec, all single-task
models), with the same model and training config, the same dataset and the same number of
training clips. On a GPU this turns dozens of tiny trainings into one that fills the device."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..data.dataset import Dataset
from ..models import build_model
from ..models.backbones import backbone_class
from ..models.multitask import TreeModel
from ..records import SplitMetrics, TrainRecord
from .batches import crop, eval_batches
from .device import autocast, on_device, resolve_device, seed_everything
from .fit import fit
from .graphs import GraphedStep
from .job import HOW_IT_RUNS, TrainJob
from .multitask import MultiTaskLoss, TaskSet, measured_splits
from .optim import make_optimizer, make_schedule
from .packing import pack_tree, unpack_tree


def can_pack(job: TrainJob) -> bool:
    """Plain jobs of a packable backbone pack; a baseline's own kind of job (masks, warm starts)
    and a backbone that does not declare itself packable train by themselves, as do compiled
    trainings (a pack would train them uncompiled, with another rounding than their key says)."""
    return job.packable and backbone_class(job.model).packable and not job.train.compile


def packs(jobs: list[TrainJob], data: Dataset, size: int) -> list[list[int]]:
    """Which jobs train together (indices into `jobs`): those of one shape key, up to `size` at
    a time, in order of first appearance; a job that does not pack trains alone."""
    groups: dict[tuple, list[int]] = {}
    for j, job in enumerate(jobs):
        groups.setdefault(shape_key(job, data) if can_pack(job) else ("alone", j), []).append(j)
    return [members[start:start + size] for members in groups.values()
            for start in range(0, len(members), max(1, size))]


def shape_key(job: TrainJob, data: Dataset) -> tuple:
    """Jobs with equal keys can be packed together."""
    order = {t: i for i, t in enumerate(job.spec.tasks)}
    shape = tuple(tuple(tuple(order[t] for t in g) for g in p) for p in job.spec.partitions)
    cols = [data.tasks.index(t) for t in job.spec.tasks]
    train = data.split == 0
    n_train = int(((data.y[:, cols] >= 0).any(dim=1) & train).sum())
    cfg = {k: v for k, v in vars(job.train).items() if k not in HOW_IT_RUNS}
    return (shape, repr(job.model), repr(sorted(cfg.items())), job.data_key, n_train)


def per_member_clip_(packed: list[nn.Parameter], own: list[list[nn.Parameter]],
                     max_norm: float) -> None:
    """clip_grad_norm_ for each member separately: every packed tensor is member-major along its
    first dimension (`view(k, -1)` puts one member per row); `own[i]` are member i's unpacked
    parameters (e.g. a margin classifier)."""
    k = len(own)
    views = [p.grad.view(k, -1) for p in packed if p.grad is not None]
    if not views:
        return
    sq = torch.cat(views, dim=1).float().pow(2).sum(dim=1)                      # (K,)
    extra = [[p.grad for p in ps if p.grad is not None] for ps in own]
    if any(extra):
        sq = sq + torch.stack([sum((g.float().pow(2).sum() for g in gs), torch.zeros((), device=sq.device))
                               for gs in extra])
    coef = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)                      # (K,)
    for v in views:
        v.mul_(coef[:, None].to(v.dtype))
    for i, gs in enumerate(extra):
        for g in gs:
            g.mul_(coef[i].to(g.dtype))


@dataclass
class Member:
    """One job of a pack: its tasks (in slot order), their columns, losses and training clips."""

    job: TrainJob
    model: TreeModel
    taskset: TaskSet
    loss: MultiTaskLoss
    aux: nn.ModuleDict
    train_idx: torch.Tensor
    generator: torch.Generator
    y: torch.Tensor                      # (N, slots) the job's label columns
    v: torch.Tensor | None               # (N, slots) regression values, or None

    def outputs(self, packed_out: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
        """This member's heads from the pack's (B, K, n) slots, each cut to its own size."""
        return {task: out[:, i, :n] for task, out, n
                in zip(self.taskset.tasks, packed_out.values(), self.taskset.head_sizes)}


class PackedTrainee:
    """K models of one shape key as one network: a trainee of `fit` with K members."""

    def __init__(self, jobs: list[TrainJob], data: Dataset, cuda_graphs: bool | None = None):
        self.size = len(jobs)              # K members
        self.data = data
        self.cfg = cfg = jobs[0].train
        self.device = device = resolve_device(cfg.device)
        self.x, self.y_all, v_all = on_device(data, device)
        y_all = self.y_all
        train_mask = (data.split == 0).to(device)
        self.clips = measured_splits(data, cfg.selection, device)
        self.members: list[Member] = []
        for job in jobs:
            taskset = TaskSet(data, list(job.spec.tasks), dict(job.weights))
            seed_everything(job.seed)
            model = build_model(job.spec, job.model, {t: data.head_size(t) for t in job.spec.tasks},
                                data.x.shape[1], data.frames)
            model.set_input_stats(data.mean, data.std)
            aux = taskset.aux_modules().to(device)     # after the model, as unpacked
            y = y_all[:, taskset.cols]
            v = v_all[:, taskset.cols] if (v_all is not None and taskset.needs_values) else None
            labelled = (y >= 0).any(dim=1) & train_mask
            gen = torch.Generator(device=device)
            gen.manual_seed(job.seed + 1)
            self.members.append(Member(job, model, taskset, taskset.loss(aux if len(aux) else None),
                                       aux, torch.nonzero(labelled).flatten(), gen, y, v))
        self.values = v_all if any(m.v is not None for m in self.members) else None
        self.n_train = len(self.members[0].train_idx)
        self.graphed = (cfg.cuda_graphs if cuda_graphs is None else cuda_graphs) \
            and device.type == "cuda"
        self.stale = False                 # the models lag behind the packed weights
        self.pack_sizes: list[int] = []    # members in the pack, per epoch
        self._build(list(range(self.size)))

    def _build(self, live: list[int]) -> None:
        """Pack the members `live` (indices into self.members) from their models' weights, with a
        fresh optimizer and schedule; `keep` carries the old ones' state over."""
        self.live = live
        members = [self.members[i] for i in live]
        self.packed = pack_tree([m.model for m in members]).to(self.device)
        self.cols = torch.tensor([m.taskset.cols for m in members], device=self.device)  # (k, slots)
        self.packed_params = [p for p in self.packed.parameters() if p.requires_grad]
        own = [list(m.aux.parameters()) for m in members]
        self.opt = make_optimizer(self.packed_params + [p for ps in own for p in ps], self.cfg,
                                  capturable=self.graphed)
        self.sched = make_schedule(self.opt, self.cfg,
                                   max(1, -(-self.n_train // self.cfg.batch_size)))
        self.step = GraphedStep(self._body(members, self.packed_params, own), self.opt,
                                self.device, enabled=self.graphed)
        self.loss_sum = torch.zeros(len(live), device=self.device)  # per member, over an epoch

    def keep(self, active: list[int]) -> None:
        """Train only the members still `active` (fit's early stopping): a pack otherwise trains
        every member until the last one stops, which on a CPU cost more than packing saved.
        The stopped members leave the pack; the others keep their weights, optimizer state and
        schedule, so their training is the same (AdamW is elementwise, clipping per member).
        Not with CUDA graphs, whose captured step holds the pack's shapes."""
        live = [i for i in self.live if i in set(active)]
        if self.graphed or not live or len(live) == len(self.live):
            return
        self.models()                                   # stopped members keep their weights
        rows = torch.tensor([self.live.index(i) for i in live], device=self.device)
        k = len(self.live)
        old_opt, old_sched, old_params = self.opt, self.sched, self.packed_params
        self._build(live)
        for old, new in zip(old_params, self.packed_params):
            state = old_opt.state.get(old)
            if state:
                self.opt.state[new] = {name: _member_rows(v, old, new, k, rows)
                                       for name, v in state.items()}
        for group in self.opt.param_groups:
            for p in group["params"]:
                if p in old_opt.state and p not in self.opt.state:   # a member's own modules
                    self.opt.state[p] = old_opt.state[p]
        for new_group, old_group in zip(self.opt.param_groups, old_opt.param_groups):
            new_group["lr"] = old_group["lr"]
        self.sched.last_epoch = old_sched.last_epoch

    # ------------------------------------------------------------------ one step
    def _body(self, members: list[Member], packed_params, own):
        packed, cfg, device = self.packed, self.cfg, self.device

        def body(xb: torch.Tensor, yb: torch.Tensor, vb: torch.Tensor | None = None) -> None:
            """One step of all K members: no host sync, so that it can be captured (graphs.py)."""
            with autocast(cfg, device):
                out = packed(xb)                                       # slot -> (B, K, n)
            out = {slot: o.float() for slot, o in out.items()}
            losses = torch.stack([m.loss(m.outputs(out, i), yb[:, i] if m.v is None
                                         else (yb[:, i], vb[:, i])) for i, m in enumerate(members)])
            losses.sum().backward()
            self.loss_sum.add_(losses.detach())
            if cfg.grad_clip > 0:
                per_member_clip_(packed_params, own, cfg.grad_clip)
            self.opt.step()

        return body

    def train_epoch(self, epoch: int) -> list[float]:
        """One epoch of the members in the pack; a stopped member's loss is nan (never read)."""
        self.packed.train()
        members = [self.members[i] for i in self.live]
        self.pack_sizes.append(len(members))
        for m in members:
            m.aux.train()
        data, x, n, bs = self.data, self.x, self.n_train, self.cfg.batch_size
        orders = torch.stack([m.train_idx[torch.randperm(n, generator=m.generator,
                                                         device=self.device)]
                              for m in members])                               # (k, n)
        jitter = data.x.shape[-1] != data.frames
        y_all, steps = self.y_all, 0
        self.loss_sum.zero_()
        for b0 in range(0, n, bs):
            rows = orders[:, b0:b0 + bs]                                       # (K, B)
            if rows.shape[1] < 2:
                continue
            nb = rows.shape[1]
            if jitter:  # each member draws its crops from its own generator, as unpacked
                xb = torch.cat([crop(x[r], data.frames, m.generator)
                                for r, m in zip(rows, members)], dim=1)
            else:       # one gather for all K members: (K, B, C, T) -> (B, K·C, T)
                xb = x[rows].float().transpose(0, 1).reshape(nb, -1, data.frames)
            index = self.cols[:, None, :].expand(-1, nb, -1)
            yb = torch.gather(y_all[rows], 2, index).transpose(0, 1)            # (B, K, slots)
            if self.values is None:
                self.step(xb, yb)
            else:
                self.step(xb, yb, torch.gather(self.values[rows], 2, index).transpose(0, 1))
            self.sched.step()
            steps += 1
        self.stale = True
        return self._by_member((self.loss_sum / max(1, steps)).tolist(), math.nan)  # one sync

    def _by_member(self, values: list, missing) -> list:
        """Values of the pack's members -> one per member of the job list."""
        out = [missing] * self.size
        for i, v in zip(self.live, values):
            out[i] = v
        return out

    # ------------------------------------------------------------------ measuring
    @torch.no_grad()
    def evaluate(self, role: str) -> list[SplitMetrics]:
        """Every member's metrics on the clips of a role (measured_splits), from one pass of
        the packed network."""
        index = self.clips[role]
        self.packed.eval()
        members = [self.members[i] for i in self.live]
        parts: dict[str, list[torch.Tensor]] = {}
        for xb in eval_batches(self.x, index, self.data.frames):
            with autocast(self.cfg, self.device):
                out = self.packed(xb.repeat(1, len(members), 1))
            for slot, o in out.items():
                parts.setdefault(slot, []).append(o.float().cpu())
        out = {slot: torch.cat(p) for slot, p in parts.items()}
        return [m.taskset.metrics(m.outputs(out, i), m.y, m.v, index, role)
                for i, m in enumerate(members)]

    def validate(self) -> list[float]:
        """The pack's members' scores; a stopped member's is -inf (never read)."""
        members = [self.members[i] for i in self.live]
        return self._by_member([m.taskset.score(metrics) for m, metrics
                                in zip(members, self.evaluate("select"))], -math.inf)

    # ------------------------------------------------------------------ weights
    def models(self) -> list[TreeModel]:
        """The members' own models, holding the packed weights of now (a stopped member's: those
        of when it left the pack)."""
        if self.stale:
            unpack_tree(self.packed, [self.members[i].model for i in self.live])
            self.stale = False
        return [m.model for m in self.members]

    def snapshot(self, member: int) -> dict:
        return copy.deepcopy(self.models()[member].state_dict())

    def restore(self, member: int, state: dict) -> None:
        self.models()[member].load_state_dict(state)


def _member_rows(value: torch.Tensor, old: nn.Parameter, new: nn.Parameter, k: int,
                 rows: torch.Tensor) -> torch.Tensor:
    """The optimizer state `value` of packed parameter `old` (k members) for the members at
    `rows`, shaped as `new`. Every packed tensor is member-major (packing.py); a head's
    (k, n, …), marked `padded_classes`, keeps the first n classes of the new pack's n. A scalar
    (the step) is copied."""
    if value.shape != old.shape:
        return value.clone()
    if getattr(old, "padded_classes", False):
        return value[rows][:, :new.shape[1]].clone()
    return value.view(k, -1)[rows].reshape(new.shape).clone()


def train_packed(jobs: list[TrainJob], data: Dataset,
                 cuda_graphs: bool | None = None) -> list[tuple[TrainRecord, dict]]:
    """Train jobs of one shape key at once; returns (record, state_dict) per job, as
    `train_job` would. On CUDA each step is replayed from a CUDA graph (graphs.py) unless
    `cuda_graphs` (default: train.cuda_graphs) is off."""
    start = time.perf_counter()
    trainee = PackedTrainee(jobs, data, cuda_graphs)
    results = fit(trainee, trainee.cfg)
    seconds = (time.perf_counter() - start) / len(jobs)
    out = []
    half = trainee.cfg.selection == "half"
    for m, model, result in zip(trainee.members, trainee.models(), results):
        model.to(trainee.device).eval()

        def measure(role: str) -> SplitMetrics:
            return m.taskset.evaluate(model, trainee.x, m.y, m.v, trainee.clips[role],
                                      data.frames, role)

        record = m.job.record(model.cost(), measure("val"), measure("test"), result, seconds,
                              str(trainee.device), select=measure("select") if half else None,
                              packed=len(jobs), cuda_graphs=trainee.step.replays > 0)
        out.append((record, {n: v.detach().cpu() for n, v in model.state_dict().items()}))
    return out
