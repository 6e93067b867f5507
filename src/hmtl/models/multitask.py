"""ONE model class for every sharing pattern: the tree spec decides which tasks share which
block instances. Independent, flat, pair and hierarchical models differ only in their spec."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .backbones import Backbone, get_backbone, head_macs, head_params
from .tree import TreeSpec


class InputNorm(nn.Module):
    """Per-channel standardisation with the training set's statistics (buffers, not trained),
    kept inside the model so an exported model takes raw features."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean[:, None]) / self.std[:, None]      # (B, C, T)


class TreeModel(nn.Module):
    """Features (B, C, T) -> {task: logits (B, classes)}."""

    def __init__(self, spec: TreeSpec, backbone: Backbone, num_classes: dict[str, int],
                 dropout: float = 0.0, in_channels: int | None = None):
        super().__init__()
        if backbone.depth != spec.depth:
            raise ValueError(f"spec has {spec.depth} depths, backbone {backbone.depth} blocks")
        self.spec = spec
        self.backbone = backbone
        self.tasks = list(spec.tasks)
        self.num_classes = {t: num_classes[t] for t in self.tasks}
        self.norm = InputNorm(in_channels or backbone.shapes[0][-2])
        self.blocks = nn.ModuleList(
            nn.ModuleList(backbone.block(d) for _ in spec.groups(d))
            for d in range(1, spec.depth + 1))
        self.parents = [[spec.parent(d, g) for g in range(len(spec.groups(d)))]
                        for d in range(1, spec.depth + 1)]
        self.leaves = {t: spec.leaf(t) for t in self.tasks}
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({t: nn.Linear(backbone.out_features, n)
                                    for t, n in self.num_classes.items()})

    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.norm.mean.copy_(mean)
        self.norm.std.copy_(std)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = [self.backbone.prepare(self.norm(x))]
        for blocks, parents in zip(self.blocks, self.parents):
            h = [block(h[p]) for block, p in zip(blocks, parents)]    # one tensor per group
        pooled = [self.backbone.pool(z) for z in h]                    # (B, C_L) per leaf group
        return {t: self.heads[t](self.dropout(pooled[self.leaves[t]])) for t in self.tasks}

    def cost(self) -> tuple[int, int]:
        return tree_cost(self.spec, self.backbone, self.num_classes)


def tree_cost(spec: TreeSpec, backbone: Backbone, num_classes: dict[str, int]) -> tuple[int, int]:
    """(trainable params, dense MACs per clip) of a tree, exactly, from the spec alone:
    sum over depths of groups × block cost, plus one head per task."""
    params = macs = 0
    for d in range(1, spec.depth + 1):
        n = len(spec.groups(d))
        params += n * backbone.block_params(d)
        macs += n * backbone.block_macs(d)
    for t in spec.tasks:
        params += head_params(backbone.out_features, num_classes[t])
        macs += head_macs(backbone.out_features, num_classes[t])
    return params, macs


def build_model(spec: TreeSpec, cfg: ModelConfig, num_classes: dict[str, int], in_channels: int,
                frames: int) -> TreeModel:
    backbone = get_backbone(cfg, in_channels, frames)
    return TreeModel(spec, backbone, num_classes, cfg.dropout, in_channels)
