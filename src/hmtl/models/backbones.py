"""Backbones: the L blocks every model of a run is made of, registered by name.

A backbone knows, from the config alone, each block's input shape, trainable parameters and
dense multiply-accumulates (MACs), so a tree's size and cost are exact without building it.
MACs count the multiplies of convolutions and linear layers; batch norms fold into the
preceding convolution at deployment and ReLU/pooling have none."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..config import ModelConfig
from ..errors import HmtlError

BACKBONES: dict[str, type["Backbone"]] = {}


def register_backbone(name: str) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        BACKBONES[name] = cls
        cls.name = name
        return cls
    return deco


def get_backbone(cfg: ModelConfig, in_channels: int, frames: int) -> "Backbone":
    if cfg.backbone not in BACKBONES:
        raise HmtlError(f"model.backbone: unknown backbone '{cfg.backbone}'; "
                        f"known: {', '.join(sorted(BACKBONES))}")
    return BACKBONES[cfg.backbone](cfg, in_channels, frames)


def _conv_len(n: int, k: int, stride: int = 1, pad: int = 0) -> int:
    return (n + 2 * pad - k) // stride + 1


class Backbone:
    """Shapes and costs of the blocks for one input size. Subclasses fill `shapes` (per-clip
    shape entering each block, and after the last) and implement `block`, `block_params`,
    `block_macs`, `prepare` and `pool`."""

    name = "base"

    def __init__(self, cfg: ModelConfig, in_channels: int, frames: int):
        self.cfg = cfg
        self.depth = cfg.blocks
        self.widths = cfg.block_widths
        self.shapes: list[tuple[int, ...]] = []

    @property
    def out_features(self) -> int:
        return self.widths[-1]

    def block(self, d: int) -> nn.Module:
        raise NotImplementedError

    def block_params(self, d: int) -> int:
        raise NotImplementedError

    def block_macs(self, d: int) -> int:
        raise NotImplementedError

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def pool(self, h: torch.Tensor) -> torch.Tensor:
        return h.flatten(2).mean(dim=2)                      # (B, C, ...) -> (B, C)


# ----------------------------------------------------------------------------- 1-D time CNN

class ConvBlock1d(nn.Sequential):
    """Conv1d – BN – ReLU – max-pool(2): one TC-ResNet-style temporal block."""

    def __init__(self, cin: int, cout: int, k: int, pool: bool):
        layers = [nn.Conv1d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm1d(cout),
                  nn.ReLU(inplace=True)]
        if pool:
            layers.append(nn.MaxPool1d(2))
        super().__init__(*layers)


@register_backbone("tc_cnn")
class TimeConvBackbone(Backbone):
    """1-D convolutions over time with the mel (or cepstral) bins as input channels, the
    cheapest good keyword-spotting family (TC-ResNet, Choi et al. 2019). Input (B, C, T)."""

    def __init__(self, cfg: ModelConfig, in_channels: int, frames: int):
        super().__init__(cfg, in_channels, frames)
        self.k = cfg.kernel_size
        c, t = in_channels, frames
        self.shapes.append((c, t))
        self.pools = []
        for w in self.widths:
            t = _conv_len(t, self.k, pad=self.k // 2)
            pool = t >= 4
            self.pools.append(pool)
            t = t // 2 if pool else t
            c = w
            self.shapes.append((c, t))
        if t < 1:
            raise HmtlError(f"model: {frames} frames are too few for {cfg.blocks} blocks")

    def block(self, d: int) -> nn.Module:
        cin = self.shapes[d - 1][0]
        return ConvBlock1d(cin, self.widths[d - 1], self.k, self.pools[d - 1])

    def block_params(self, d: int) -> int:
        cin, cout = self.shapes[d - 1][0], self.widths[d - 1]
        return cin * cout * self.k + 2 * cout                     # conv weights + BN scale/shift

    def block_macs(self, d: int) -> int:
        cin, t = self.shapes[d - 1]
        cout = self.widths[d - 1]
        return _conv_len(t, self.k, pad=self.k // 2) * cout * cin * self.k


# ----------------------------------------------------------------------------- 2-D DS-CNN

class DSConvBlock2d(nn.Module):
    """Depthwise 3x3 – BN – ReLU – pointwise 1x1 – BN – ReLU (the DS-CNN block of
    Zhang et al. 2017, "Hello Edge"); the first block is a plain 3x3 convolution."""

    def __init__(self, cin: int, cout: int, stride: int, first: bool):
        super().__init__()
        if first:
            self.body = nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        else:
            self.body = nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
                nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
                nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.body(x)


@register_backbone("ds_cnn")
class DSCNNBackbone(Backbone):
    """2-D depthwise-separable CNN over the (mel, time) image, the standard keyword-spotting
    baseline. Blocks downsample by 2 while both sides are at least 16. Input (B, C, T)."""

    def __init__(self, cfg: ModelConfig, in_channels: int, frames: int):
        super().__init__(cfg, in_channels, frames)
        c, f, t = 1, in_channels, frames
        self.shapes.append((c, f, t))
        self.strides = []
        for w in self.widths:
            s = 2 if min(f, t) >= 16 else 1
            self.strides.append(s)
            f, t = _conv_len(f, 3, s, 1), _conv_len(t, 3, s, 1)
            c = w
            self.shapes.append((c, f, t))

    def block(self, d: int) -> nn.Module:
        return DSConvBlock2d(self.shapes[d - 1][0], self.widths[d - 1], self.strides[d - 1], d == 1)

    def block_params(self, d: int) -> int:
        cin, cout = self.shapes[d - 1][0], self.widths[d - 1]
        if d == 1:
            return cin * cout * 9 + 2 * cout
        return cin * 9 + 2 * cin + cin * cout + 2 * cout

    def block_macs(self, d: int) -> int:
        cin = self.shapes[d - 1][0]
        cout, f, t = self.shapes[d]
        if d == 1:
            return f * t * cout * cin * 9
        return f * t * cin * 9 + f * t * cout * cin

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1)                                     # (B, F, T) -> (B, 1, F, T)


def head_params(in_features: int, classes: int) -> int:
    return in_features * classes + classes


def head_macs(in_features: int, classes: int) -> int:
    return in_features * classes
