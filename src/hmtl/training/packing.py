"""K same-structured models as one network, side by side on channels.

Every convolution of the K models becomes one operation (a batched matrix product on GPU, a
grouped convolution on CPU; depthwise, one grouped convolution with groups × K), every BatchNorm one BatchNorm over K·C channels (statistics stay
per model), every head one batched matrix product. Model k reads channels [k·C, (k+1)·C), so the
K models never mix: a summed loss gives each one exactly its own gradient. Every packed tensor
is member-major (model k's values are row k of `.view(K, -1)`); the heads' tensors, (K, n, …)
with n the most classes of any model, are marked `padded_classes`.

`pack_tree` packs K TreeModels of one spec shape into a TreeModel whose forward is the plain
TreeModel's: only its modules are packed, and its heads return (B, K, classes) per task slot."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..models.multitask import InputNorm, TreeModel

PACKABLE_LEAVES = (nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool1d,
                   nn.MaxPool2d, nn.Identity, nn.Dropout)


class PackedConv(nn.Module):
    """K ordinary convolutions (1-D or 2-D, groups=1) as one operation. On a GPU, one batched
    matrix product over the unfolded input: cuDNN runs a grouped convolution of many groups as
    many small kernels, which leaves the GPU idle; one batched GEMM does not. On a CPU the
    other way round: oneDNN's grouped convolution, as unfolding costs more than the product
    (RAVDESS pair models at widths ×0.25, 10 packed: 1.47 s per model against 2.18 unfolded
    and 2.23 one by one; BENCHMARKS.md). The weight keeps the grouped layout
    (K·C_out, C_in, *kernel), so packing and unpacking are the same either way."""

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
        if x.device.type == "cpu":
            return self._grouped(x)
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

    def _grouped(self, x: torch.Tensor) -> torch.Tensor:
        if self.one_d:
            return F.conv1d(x, self.weight, self.bias, self.stride[1], self.padding[1],
                            self.dilation[1], groups=self.k)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        groups=self.k)


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
            if m.num_batches_tracked is not None:   # the same for members packed together
                packed.num_batches_tracked.copy_(m.num_batches_tracked)
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


class PackedHeads(nn.Module):
    """K linear heads of one task slot as one batched product: (B, K·C) -> (B, K, n), n the
    most classes of any model; a model's missing classes are never read (callers slice)."""

    def __init__(self, heads: list[nn.Linear]):
        super().__init__()
        k, width, n = len(heads), heads[0].in_features, max(h.out_features for h in heads)
        self.k = k
        weight, bias = torch.zeros(k, n, width), torch.zeros(k, n)
        for i, h in enumerate(heads):
            weight[i, :h.out_features] = h.weight.detach()
            bias[i, :h.out_features] = h.bias.detach()
        self.weight, self.bias = nn.Parameter(weight), nn.Parameter(bias)
        for p in (self.weight, self.bias):
            p.padded_classes = True          # (K, n, …): rows padded to the most classes

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.view(z.shape[0], self.k, -1)                                    # (B, K, C)
        return torch.einsum("bkc,knc->bkn", z, self.weight) + self.bias       # (B, K, n)

    def unpack(self, heads: list[nn.Linear]) -> None:
        with torch.no_grad():
            for i, h in enumerate(heads):
                h.weight.copy_(self.weight[i, :h.out_features])
                h.bias.copy_(self.bias[i, :h.out_features])


class PackedBackbone:
    """The backbone's shaping steps for K models side by side: `prepare` maps each model's
    channels as the backbone does one model's (e.g. (B, F, T) -> (B, 1, F, T) for ds_cnn)."""

    def __init__(self, inner, k: int):
        self.inner, self.k = inner, k

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        chunks = x.chunk(self.k, dim=1)                                       # K × (B, C, T)
        return torch.cat([self.inner.prepare(c) for c in chunks], dim=1)

    def pool(self, h: torch.Tensor) -> torch.Tensor:
        return self.inner.pool(h)                                             # channel-wise


def pack_tree(models: list[TreeModel]) -> TreeModel:
    """K TreeModels of one spec shape as one TreeModel: input (B, K·C, T), model k's in
    channels [k·C, (k+1)·C); output per task slot (named after the first model's tasks)
    (B, K, classes). The forward pass is TreeModel's own."""
    first = models[0]
    packed = copy.copy(first)                       # same class and forward, new modules below
    packed._modules = dict(first._modules)
    packed._parameters, packed._buffers = {}, {}
    packed.backbone = PackedBackbone(first.backbone, len(models))
    packed.norm = pack_modules([m.norm for m in models])
    packed.blocks = nn.ModuleList(
        nn.ModuleList(pack_modules([m.blocks[d][g] for m in models])
                      for g in range(len(first.blocks[d])))
        for d in range(len(first.blocks)))
    packed.heads = nn.ModuleDict({slot: PackedHeads([m.heads[m.tasks[s]] for m in models])
                                  for s, slot in enumerate(first.tasks)})
    packed.dropout = copy.deepcopy(first.dropout)
    return packed


def unpack_tree(packed: TreeModel, models: list[TreeModel]) -> None:
    """Copy a packed tree's weights back into its K models."""
    unpack_into(packed.norm, [m.norm for m in models])
    for d, blocks in enumerate(packed.blocks):
        for g, block in enumerate(blocks):
            unpack_into(block, [m.blocks[d][g] for m in models])
    for s, slot in enumerate(packed.tasks):
        packed.heads[slot].unpack([m.heads[m.tasks[s]] for m in models])
