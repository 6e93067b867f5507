"""The folded float graph of a tree: BatchNorm folded into the convolutions, ReLU fused, in
NHWC; what the int8 model is quantised from and its float twin is written from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import HmtlError

MCU_BACKBONES = ("tc_cnn", "ds_cnn")


@dataclass
class Layer:
    """One int8 operator of the folded float graph; reads tensor `src`, writes a new one."""
    kind: str                                  # conv, dwconv, maxpool, mean, fc
    src: int
    weight: np.ndarray | None = None           # conv: (O, kh, kw, I); dwconv: (1, kh, kw, C)
    bias: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, bottom, left, right
    kernel: tuple[int, int] = (1, 1)           # maxpool
    relu: bool = False
    task: str | None = None                    # fc: its task


@dataclass
class FoldedGraph:
    """A tree with BatchNorm folded and ReLU fused, in NHWC; tensor 0 is the normalised input."""
    input_shape: tuple[int, int, int, int]
    two_d: bool = False
    layers: list[Layer] = field(default_factory=list)
    outputs: dict[str, int] = field(default_factory=dict)     # task -> tensor

    def add(self, layer: Layer) -> int:
        self.layers.append(layer)
        return len(self.layers)                # tensor i+1 is layer i's output

    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every tensor (NHWC, float) for a batch of normalised NHWC inputs: the calibration
        and the check that folding kept the model's function."""
        values = [x]
        for layer in self.layers:
            if layer.kind == "fc":
                values.append(F.linear(values[layer.src], torch.from_numpy(layer.weight),
                                       torch.from_numpy(layer.bias)))
                continue
            h = values[layer.src].permute(0, 3, 1, 2)                  # NCHW for torch
            top, bottom, left, right = layer.pad
            if layer.kind in ("conv", "dwconv"):
                h = F.pad(h, (left, right, top, bottom))
                w = torch.from_numpy(layer.weight)
                if layer.kind == "conv":
                    w, groups = w.permute(0, 3, 1, 2), 1                 # OHWI -> OIHW
                else:
                    w, groups = w.permute(3, 0, 1, 2), w.shape[-1]       # 1HWC -> C1HW
                h = F.conv2d(h, w, torch.from_numpy(layer.bias), layer.stride, groups=groups)
                h = F.relu(h) if layer.relu else h
            elif layer.kind == "maxpool":
                h = F.max_pool2d(h, layer.kernel, layer.stride)
            elif layer.kind == "mean":
                values.append(h.mean(dim=(2, 3)))
                continue
            values.append(h.permute(0, 2, 3, 1))
        return values

    def heads(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        values = self.run(x)
        return {t: values[i] for t, i in self.outputs.items()}


def nhwc(x: torch.Tensor, two_d: bool) -> torch.Tensor:
    """Features (B, C, T) -> NHWC: (B, 1, T, C) for a 1-D model, (B, C, T, 1) for a 2-D one."""
    return x[..., None] if two_d else x.permute(0, 2, 1)[:, None]


def fold_tree(model) -> FoldedGraph:
    """The TreeModel `model` (eval mode) as a FoldedGraph."""
    name = getattr(type(model.backbone), "name", type(model.backbone).__name__)
    if name not in MCU_BACKBONES:
        raise HmtlError(f"mcu target: backbone '{name}' is not supported (only "
                        f"{', '.join(MCU_BACKBONES)})")
    two_d = name == "ds_cnn"
    shape = model.backbone.shapes[0]
    c, t = (model.norm.mean.numel(), shape[-1])
    graph = FoldedGraph((1, c, t, 1) if two_d else (1, 1, t, c), two_d)
    h = [0]
    for blocks, parents in zip(model.blocks, model.parents):
        h = [_fold_block(graph, block, h[p]) for block, p in zip(blocks, parents)]
    pooled = [graph.add(Layer("mean", src)) for src in h]
    for task in model.tasks:
        head = model.heads[task]
        graph.outputs[task] = graph.add(Layer(
            "fc", pooled[model.leaves[task]], weight=_np(head.weight), bias=_np(head.bias),
            task=task))
    return graph


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _leaves(module: nn.Module) -> list[nn.Module]:
    children = list(module.children())
    if not children:
        return [module]
    return [leaf for child in children for leaf in _leaves(child)]


def _fold_block(graph: FoldedGraph, block: nn.Module, src: int) -> int:
    layers = [m for m in _leaves(block) if not isinstance(m, (nn.Dropout, nn.Identity))]
    i = 0
    while i < len(layers):
        m = layers[i]
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            bn = layers[i + 1] if i + 1 < len(layers) and isinstance(
                layers[i + 1], (nn.BatchNorm1d, nn.BatchNorm2d)) else None
            relu = i + 1 + (bn is not None) < len(layers) and isinstance(
                layers[i + 1 + (bn is not None)], nn.ReLU)
            src = graph.add(_conv_layer(m, bn, relu, src))
            i += 1 + (bn is not None) + relu
        elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
            src = graph.add(_pool_layer(m, src))
            i += 1
        else:
            raise HmtlError(f"mcu target: cannot convert {type(m).__name__} in a block "
                            f"(supported: Conv1d/Conv2d, BatchNorm, ReLU, MaxPool, Dropout)")
    return src


def _pair(v) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) and len(v) == 2 else \
        (1, int(v[0] if isinstance(v, (tuple, list)) else v))


def _conv_layer(conv: nn.Module, bn: nn.Module | None, relu: bool, src: int) -> Layer:
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise HmtlError("mcu target: only zero padding given as numbers converts")
    one_d = isinstance(conv, nn.Conv1d)
    w = _np(conv.weight)
    if one_d:
        w = w[:, :, None, :]                                           # (O, I, 1, k)
    bias = _np(conv.bias) if conv.bias is not None else np.zeros(w.shape[0], np.float32)
    if bn is not None:
        scale = _np(bn.weight) / np.sqrt(_np(bn.running_var) + bn.eps)
        w = w * scale[:, None, None, None]
        bias = (bias - _np(bn.running_mean)) * scale + _np(bn.bias)
    ph, pw = _pair(conv.padding) if not one_d else (0, int(conv.padding[0]))
    stride = _pair(conv.stride) if not one_d else (1, int(conv.stride[0]))
    if _pair(conv.dilation) != (1, 1) and not (one_d and conv.dilation[0] == 1):
        raise HmtlError("mcu target: dilated convolutions do not convert")
    pad = (ph, ph, pw, pw)
    if conv.groups == 1:
        return Layer("conv", src, np.ascontiguousarray(w.transpose(0, 2, 3, 1)),
                     bias.astype(np.float32), stride, pad, relu=relu)
    if conv.groups == conv.in_channels == conv.out_channels:
        return Layer("dwconv", src, np.ascontiguousarray(w.transpose(1, 2, 3, 0)),
                     bias.astype(np.float32), stride, pad, relu=relu)
    raise HmtlError("mcu target: grouped convolutions other than depthwise do not convert")


def _pool_layer(pool: nn.Module, src: int) -> Layer:
    if pool.padding not in (0, (0, 0)) or pool.ceil_mode or pool.dilation not in (1, (1, 1)):
        raise HmtlError("mcu target: only max pooling without padding or ceil mode converts")
    if isinstance(pool, nn.MaxPool1d):
        kernel, stride = (1, int(pool.kernel_size)), (1, int(pool.stride))
    else:
        kernel, stride = _pair(pool.kernel_size), _pair(pool.stride)
    return Layer("maxpool", src, kernel=kernel, stride=stride)


def shapes_of(graph: FoldedGraph) -> list[tuple[int, ...]]:
    with torch.no_grad():
        return [tuple(v.shape) for v in graph.run(torch.zeros(graph.input_shape))]


def graph_macs(graph: FoldedGraph) -> int:
    """Multiply-accumulates of one clip: every output element of a convolution costs its
    kernel's size (× input channels unless depthwise), a head in × out."""
    shapes = shapes_of(graph)
    total = 0
    for i, layer in enumerate(graph.layers):
        out = int(np.prod(shapes[i + 1]))
        if layer.kind == "conv":
            total += out * int(np.prod(layer.weight.shape[1:]))
        elif layer.kind == "dwconv":
            total += out * int(np.prod(layer.weight.shape[1:3]))
        elif layer.kind == "fc":
            total += int(layer.weight.size)
    return total
