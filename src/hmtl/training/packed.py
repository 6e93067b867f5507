"""Packed training: K small models of the same shape trained at once, as one network.

Every convolution of the K models becomes one grouped convolution (K·C channels, groups × K),
every BatchNorm one BatchNorm over K·C channels (so statistics stay per model), and every head
one batched matrix product. Model k reads its own batch in channels [k·C, (k+1)·C), so the K
models never mix: the summed loss gives each one exactly its own gradient, AdamW is elementwise,
and gradient clipping is done per model. Each model is initialised from the unpacked model of
its seed and reads the batches of its own seed's generator, so a packed job is the same job as
an unpacked one (up to float rounding and dropout masks), and is stored the same way.

What packs together: jobs whose specs have the same shape once task names are replaced by
their position (e.g. all pair models of one depth, all seeds of one spec, all single-task
models), with the same model and training config, the same dataset and the same number of
training clips. On a GPU this turns dozens of tiny trainings into one that fills the device.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.dataset import Dataset
from ..models import build_model
from ..models.multitask import InputNorm, TreeModel
from .batches import crop, eval_batches
from .graphs import GraphedStep
from .job import HOW_IT_RUNS, TrainJob, autocast, on_device, resolve_device, seed_everything
from .loop import make_optimizer, make_schedule
from ..metrics import accuracy, macro_f1

PACKABLE_LEAVES = (nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool1d,
                   nn.MaxPool2d, nn.Identity, nn.Dropout)


def can_pack(job: TrainJob, data: Dataset) -> bool:
    """Packing covers plain jobs of classification tasks (other task types train unpacked)."""
    return job.packable and all(data.types.get(t, "classification") == "classification"
                                for t in job.spec.tasks)


def shape_key(job: TrainJob, data: Dataset) -> tuple:
    """Jobs with equal keys can be packed together."""
    order = {t: i for i, t in enumerate(job.spec.tasks)}
    shape = tuple(tuple(tuple(order[t] for t in g) for g in p) for p in job.spec.partitions)
    cols = [data.tasks.index(t) for t in job.spec.tasks]
    train = data.split == 0
    n_train = int(((data.y[:, cols] >= 0).any(dim=1) & train).sum())
    cfg = {k: v for k, v in vars(job.train).items() if k not in HOW_IT_RUNS}
    return (shape, repr(job.model), repr(sorted(cfg.items())), job.data_key, n_train)


# ----------------------------------------------------------------------------- packing

class PackedConv(nn.Module):
    """K ordinary convolutions (1-D or 2-D, groups=1) as one batched matrix product over the
    unfolded input. cuDNN runs a grouped convolution of many groups as many small kernels,
    which leaves a GPU idle; one batched GEMM does not. The weight keeps the grouped layout
    (K·C_out, C_in, *kernel), so packing and unpacking are the same as for a grouped conv."""

    def __init__(self, convs: list[nn.Module]):
        super().__init__()
        m = convs[0]
        self.k, self.one_d = len(convs), isinstance(m, nn.Conv1d)
        self.cin, self.cout = m.in_channels, m.out_channels
        pair = (lambda v: (1, v[0])) if self.one_d else (lambda v: tuple(v))  # noqa: E731
        self.kernel, self.stride = pair(m.kernel_size), pair(m.stride)
        self.dilation = pair(m.dilation)
        self.padding = (0, m.padding[0]) if self.one_d else tuple(m.padding)
        self.weight = nn.Parameter(torch.cat([c.weight.detach() for c in convs]).clone())
        self.bias = nn.Parameter(torch.cat([c.bias.detach() for c in convs]).clone()) \
            if m.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.one_d:
            x = x.unsqueeze(2)                                            # (B, K·Ci, 1, T)
        b, _, h, w = x.shape
        cols = F.unfold(x, self.kernel, self.dilation, self.padding, self.stride)
        ho = (h + 2 * self.padding[0] - self.dilation[0] * (self.kernel[0] - 1) - 1) // self.stride[0] + 1
        wo = (w + 2 * self.padding[1] - self.dilation[1] * (self.kernel[1] - 1) - 1) // self.stride[1] + 1
        cols = cols.view(b, self.k, -1, ho * wo)                          # (B, K, Ci·kk, L)
        out = torch.matmul(self.weight.view(self.k, self.cout, -1), cols)  # (B, K, Co, L)
        out = out.reshape(b, self.k * self.cout, ho, wo)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out.squeeze(2) if self.one_d else out


def _pack_leaf(mods: list[nn.Module]) -> nn.Module:
    k = len(mods)
    m = mods[0]
    if isinstance(m, (nn.Conv1d, nn.Conv2d)) and m.groups == 1 and m.padding_mode == "zeros":
        return PackedConv(mods)
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):           # depthwise: cuDNN does these well
        packed = type(m)(m.in_channels * k, m.out_channels * k, m.kernel_size, stride=m.stride,
                         padding=m.padding, dilation=m.dilation, groups=m.groups * k,
                         bias=m.bias is not None)
        with torch.no_grad():
            packed.weight.copy_(torch.cat([x.weight for x in mods]))
            if m.bias is not None:
                packed.bias.copy_(torch.cat([x.bias for x in mods]))
        return packed
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        packed = type(m)(m.num_features * k, eps=m.eps, momentum=m.momentum)
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(packed, name).copy_(torch.cat([getattr(x, name) for x in mods]))
        return packed
    if isinstance(m, InputNorm):
        packed = InputNorm(m.mean.numel() * k)
        packed.mean.copy_(torch.cat([x.mean for x in mods]))
        packed.std.copy_(torch.cat([x.std for x in mods]))
        return packed
    if isinstance(m, PACKABLE_LEAVES):
        return copy.deepcopy(m)                      # channel-wise: works on K·C channels as is
    raise TypeError(f"cannot pack {type(m).__name__}")


def pack_modules(mods: list[nn.Module]) -> nn.Module:
    """One module computing the K given same-structured modules side by side on channels."""
    children = list(mods[0].named_children())
    if not children:
        return _pack_leaf(mods)
    packed = copy.copy(mods[0])
    packed._modules = {name: pack_modules([getattr(m, name) for m in mods])
                       for name, _ in children}
    return packed


def unpack_into(packed: nn.Module, models: list[nn.Module]) -> None:
    """Copy the packed parameters and buffers back into K modules of the original structure."""
    k = len(models)
    p_state = packed.state_dict()
    for i, model in enumerate(models):
        state = model.state_dict()
        for name, value in state.items():
            src = p_state[name]
            if src.shape == value.shape:                      # e.g. num_batches_tracked
                state[name] = src.clone()
            else:
                state[name] = src.reshape(k, -1)[i].reshape(value.shape).clone()
        model.load_state_dict(state)


class PackedTreeModel(nn.Module):
    """K TreeModels of one spec shape, one grouped network. Tasks are addressed by slot (their
    position in each job's spec); a slot's head has the most classes of any model, and the
    classes a model does not have are masked out of its logits."""

    def __init__(self, models: list[TreeModel]):
        super().__init__()
        self.k = len(models)
        first = models[0]
        self.backbone = first.backbone
        self.parents = first.parents
        self.slots = len(first.tasks)
        self.leaves = [first.leaves[t] for t in first.tasks]
        self.norm = pack_modules([m.norm for m in models])
        self.blocks = nn.ModuleList(
            nn.ModuleList(pack_modules([m.blocks[d][g] for m in models])
                          for g in range(len(first.blocks[d])))
            for d in range(len(first.blocks)))
        width = self.backbone.out_features
        self.classes = [[m.num_classes[m.tasks[s]] for m in models] for s in range(self.slots)]
        self.head_w = nn.ParameterList()
        self.head_b = nn.ParameterList()
        masks = []
        for s in range(self.slots):
            n = max(self.classes[s])
            w = torch.zeros(self.k, n, width)
            b = torch.zeros(self.k, n)
            mask = torch.zeros(self.k, n, dtype=torch.bool)
            for i, m in enumerate(models):
                head = m.heads[m.tasks[s]]
                w[i, :head.out_features] = head.weight.detach()
                b[i, :head.out_features] = head.bias.detach()
                mask[i, :head.out_features] = True
            self.head_w.append(nn.Parameter(w))
            self.head_b.append(nn.Parameter(b))
            masks.append(mask)
        for s, mask in enumerate(masks):
            self.register_buffer(f"valid{s}", mask, persistent=False)
        self.dropout = copy.deepcopy(first.dropout)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x (B, K·C, T): model k's input in channels [k·C, (k+1)·C) -> per slot (B, K, n)."""
        b = x.shape[0]
        x = self.norm(x)
        c = x.shape[1] // self.k
        h = [torch.cat([self.backbone.prepare(x[:, i * c:(i + 1) * c]) for i in range(self.k)],
                       dim=1)]
        for blocks, parents in zip(self.blocks, self.parents):
            h = [block(h[p]) for block, p in zip(blocks, parents)]
        pooled = [self.backbone.pool(z).view(b, self.k, -1) for z in h]        # (B, K, C_L)
        out = []
        for s in range(self.slots):
            z = self.dropout(pooled[self.leaves[s]])
            logits = torch.einsum("bkc,knc->bkn", z, self.head_w[s]) + self.head_b[s]
            out.append(logits.masked_fill(~getattr(self, f"valid{s}"), -1e9))
        return out

    def unpack(self, models: list[TreeModel]) -> None:
        unpack_into(self.norm, [m.norm for m in models])
        for d, blocks in enumerate(self.blocks):
            for g, block in enumerate(blocks):
                unpack_into(block, [m.blocks[d][g] for m in models])
        with torch.no_grad():
            for s in range(self.slots):
                for i, m in enumerate(models):
                    head = m.heads[m.tasks[s]]
                    head.weight.copy_(self.head_w[s][i, :head.out_features])
                    head.bias.copy_(self.head_b[s][i, :head.out_features])


def per_model_clip_(params: list[nn.Parameter], k: int, max_norm: float) -> None:
    """clip_grad_norm_ for each of the K models separately: every packed tensor is model-major
    along its first dimension, so `view(k, -1)` puts one model per row."""
    views = [p.grad.view(k, -1) for p in params if p.grad is not None]
    if not views:
        return
    sq = torch.cat(views, dim=1).float().pow(2).sum(dim=1)                  # (K,)
    coef = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)[:, None]
    for v in views:
        v.mul_(coef.to(v.dtype))


# ----------------------------------------------------------------------------- training

@dataclass
class _Slot:
    job: TrainJob
    cols: list[int]
    train_idx: torch.Tensor
    generator: torch.Generator


def train_packed(jobs: list[TrainJob], data: Dataset,
                 cuda_graphs: bool | None = None) -> list[tuple[dict, dict]]:
    """Train jobs of one shape key at once; returns (record, state_dict) per job, as
    `train_job` would. On CUDA each step is replayed from a CUDA graph (graphs.py) unless
    `cuda_graphs` (default: train.cuda_graphs) is off."""
    k = len(jobs)
    cfg = jobs[0].train
    device = resolve_device(cfg.device)
    x, y_all, _ = on_device(data, device)
    train_mask = (data.split == 0).to(device)
    val_idx = data.indices("val").to(device)
    test_idx = data.indices("test").to(device)

    models, slots = [], []
    for job in jobs:
        seed_everything(job.seed)
        model = build_model(job.spec, job.model,
                            {t: data.num_classes(t) for t in job.spec.tasks},
                            data.x.shape[1], data.frames)
        model.set_input_stats(data.mean, data.std)
        models.append(model)
        cols = [data.tasks.index(t) for t in job.spec.tasks]
        labelled = (y_all[:, cols] >= 0).any(dim=1) & train_mask
        gen = torch.Generator(device=device)
        gen.manual_seed(job.seed + 1)
        slots.append(_Slot(job, cols, torch.nonzero(labelled).flatten(), gen))
    packed = PackedTreeModel(models).to(device)
    weights = torch.tensor([[dict(j.weights)[t] for t in j.spec.tasks] for j in jobs],
                           device=device)                                   # (K, slots)
    n_slots = packed.slots
    n_train = len(slots[0].train_idx)
    steps = max(1, -(-n_train // cfg.batch_size))
    params = [p for p in packed.parameters() if p.requires_grad]
    graphed = (cfg.cuda_graphs if cuda_graphs is None else cuda_graphs) and device.type == "cuda"
    opt = make_optimizer(params, cfg, capturable=graphed)
    sched = make_schedule(opt, cfg, steps)

    cols = torch.tensor([s.cols for s in slots], device=device)                # (K, slots)
    jitter = data.x.shape[-1] != data.frames

    def evaluate(index: torch.Tensor) -> list[dict]:
        packed.eval()
        preds = [[] for _ in range(n_slots)]
        with torch.no_grad():
            for xb in eval_batches(x, index, data.frames):
                with autocast(cfg, device):
                    outs = packed(xb.repeat(1, k, 1))
                for s, logits in enumerate(outs):
                    preds[s].append(logits.argmax(dim=2).cpu())           # (B, K)
        preds = [torch.cat(p) for p in preds]
        out = []
        for i, slot in enumerate(slots):
            truth = y_all[index][:, slot.cols].cpu().numpy()
            metrics = {}
            for s, task in enumerate(slot.job.spec.tasks):
                m = truth[:, s] >= 0
                yt, yp = truth[m, s], preds[s][:, i].numpy()[m]
                metrics[task] = {"accuracy": accuracy(yt, yp), "macro_f1": macro_f1(yt, yp),
                                 "n": int(len(yt))}
            out.append(metrics)
        return out

    def body(xb: torch.Tensor, yb: torch.Tensor) -> None:
        """One step of all K models: no host sync, so that it can be captured (graphs.py)."""
        with autocast(cfg, device):
            outs = [o.float() for o in packed(xb)]
        loss = 0.0
        for s in range(n_slots):
            target = yb[:, :, s]
            ok = target >= 0
            ce = F.cross_entropy(outs[s].permute(0, 2, 1), target.clamp(min=0),
                                 reduction="none")                          # (B, K)
            per_model = (ce * ok).sum(dim=0) / ok.sum(dim=0).clamp(min=1)
            loss = loss + (weights[:, s] * per_model).sum()
        loss.backward()
        if cfg.grad_clip > 0:
            per_model_clip_(params, k, cfg.grad_clip)
        opt.step()

    step = GraphedStep(body, opt, device, enabled=graphed)

    best_score = [-float("inf")] * k
    best_epoch = [0] * k
    best_state: list[dict | None] = [None] * k
    stopped = [False] * k
    epochs_run = [0] * k
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        packed.train()
        orders = torch.stack([s.train_idx[torch.randperm(n_train, generator=s.generator,
                                                         device=device)] for s in slots])  # (K, n)
        for b0 in range(0, n_train, cfg.batch_size):
            rows = orders[:, b0:b0 + cfg.batch_size]                         # (K, B)
            if rows.shape[1] < 2:
                continue
            nb = rows.shape[1]
            if jitter:  # each model draws its crops from its own generator, as unpacked
                xb = torch.cat([crop(x[r], data.frames, s.generator) for r, s in zip(rows, slots)],
                               dim=1)
            else:       # one gather for all K models: (K, B, C, T) -> (B, K·C, T)
                xb = x[rows].float().transpose(0, 1).reshape(nb, -1, data.frames)
            yb = torch.gather(y_all[rows], 2, cols[:, None, :].expand(-1, nb, -1)) \
                .transpose(0, 1)                                             # (B, K, slots)
            step(xb, yb)
            sched.step()
        val = evaluate(val_idx)
        for i, slot in enumerate(slots):
            if stopped[i]:
                continue
            epochs_run[i] = epoch
            tasks = slot.job.spec.tasks
            score = sum(val[i][t]["accuracy"] for t in tasks) / len(tasks)
            if score > best_score[i]:
                best_score[i], best_epoch[i] = score, epoch
                packed.unpack(models)
                best_state[i] = copy.deepcopy(models[i].state_dict())
            elif epoch - best_epoch[i] >= cfg.patience:
                stopped[i] = True
        if all(stopped):
            break
    seconds = (time.perf_counter() - start) / k
    for model, state in zip(models, best_state):
        model.load_state_dict(state)
    # final metrics from the restored best weights, through the packed model again
    packed = PackedTreeModel(models).to(device)
    val, test = evaluate(val_idx), evaluate(test_idx)
    results = []
    for i, (slot, model) in enumerate(zip(slots, models)):
        params_count, macs = model.cost()
        record = {
            "key": slot.job.key, "tag": slot.job.tag, "tasks": list(slot.job.spec.tasks),
            "tree": slot.job.spec.to_json(), "seed": slot.job.seed, "params": params_count,
            "macs": macs, "val": val[i], "test": test[i], "best_epoch": best_epoch[i],
            "epochs": epochs_run[i], "seconds": round(seconds, 3), "device": str(device),
            "packed": k, "cuda_graphs": step.replays > 0,
        }
        results.append((record, {n: v.detach().cpu() for n, v in model.state_dict().items()}))
    return results
