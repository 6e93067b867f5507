"""Your own backbone for hmtl, in one file: a dilated residual 1-D CNN.

Use it from a config (paths relative to the config file):

    model:
      backbone: dilated_tc
      imports: [my_backbones.py]        # or a module name: my_pkg.backbones
      widths: [16, 16, 24, 24]
      args: {dilation_growth: 2}        # read below as self.args

A backbone gives `block(d)` (the d-th of `model.blocks` blocks, 1-based) and `shapes` (the
per-clip shape entering each block and leaving the last; `trace_shapes` fills it). hmtl measures
each block's params and MACs from the built module, trains, prunes and exports it like its own
backbones, and hashes this file's source into every training's identity: edit it and the next
`hmtl run` retrains instead of reusing old results."""

import torch
from torch import nn

from hmtl.models import Backbone, register_backbone


class DilatedBlock(nn.Module):
    """Conv1d (dilated) – BN, plus a 1x1 projection on the skip path, then ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, padding=dilation * (kernel // 2),
                              dilation=dilation, bias=False)
        self.bn = nn.BatchNorm1d(cout)
        self.skip = nn.Conv1d(cin, cout, 1, bias=False) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)) + self.skip(x))


@register_backbone("dilated_tc")
class DilatedTC(Backbone):
    """Input (batch, mel bins, frames); block d dilates by dilation_growth^(d-1)."""

    def __init__(self, cfg, in_channels: int, frames: int):
        super().__init__(cfg, in_channels, frames)
        self.growth = int(self.args.get("dilation_growth", 2))
        self.in_channels = in_channels
        self.trace_shapes(in_channels, frames)

    def block(self, d: int) -> nn.Module:
        cin = self.in_channels if d == 1 else self.widths[d - 2]
        return DilatedBlock(cin, self.widths[d - 1], self.cfg.kernel_size, self.growth ** (d - 1))
