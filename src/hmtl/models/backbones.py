"""Backbones: the L blocks every model of a run is made of, registered by name.

A backbone knows, from the config alone, each block's input shape, trainable parameters and
dense multiply-accumulates (MACs), so a tree's size and cost are exact without building it.
MACs count the multiplies of convolutions and linear layers; batch norms fold into the
preceding convolution at deployment and ReLU/pooling have none.

Your own backbone: subclass `Backbone`, decorate it with `@register_backbone("name")`, fill
`shapes` (or call `trace_shapes`) and implement `block`; params and MACs are then measured from
the built blocks (a class that gives formulas instead is checked against them). Name its module
in `model.imports` (or in the `hmtl.backbones` entry-point group of your package) so that every
worker process finds it; its source code (or a declared `version`) is part of every training's
identity, so editing it retrains instead of silently reusing old results."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..config import ModelConfig
from ..errors import HmtlError

BACKBONES: dict[str, type["Backbone"]] = {}
ENTRY_POINTS = "hmtl.backbones"      # group of a package's `[project.entry-points]`
# model keys added after the first run folders: hashed only when set, so that old trainings keep
# their identity; `imports` says where code lives, not what it is (its source is hashed instead)
LATER_MODEL_DEFAULTS = {"args": {}}
NOT_IDENTITY = ("imports",)


def register_backbone(name: str) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        BACKBONES[name] = cls
        cls.name = name
        return cls
    return deco


def import_backbones(names: list[str] | tuple[str, ...]) -> None:
    """Import `model.imports`: module names, or .py files (absolute after config loading)."""
    for name in names:
        try:
            if name.endswith(".py"):
                _import_file(Path(name))
            else:
                importlib.import_module(name)
        except HmtlError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure in user code is the user's to see
            raise HmtlError(f"model.imports: importing {name} failed "
                            f"({type(e).__name__}: {e})") from None


def _import_file(path: Path) -> None:
    path = path.resolve()
    module = "hmtl_user_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if module in sys.modules:
        return
    if not path.is_file():
        raise HmtlError(f"model.imports: {path} not found")
    spec = importlib.util.spec_from_file_location(module, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[module]
        raise


def _from_entry_points(name: str) -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINTS):
        if ep.name == name:
            loaded = ep.load()
            if isinstance(loaded, type) and issubclass(loaded, Backbone) and name not in BACKBONES:
                register_backbone(name)(loaded)


def backbone_class(cfg: ModelConfig) -> type["Backbone"]:
    """The class registered as `model.backbone`, importing `model.imports` and, failing that,
    the `hmtl.backbones` entry points of installed packages."""
    if cfg.backbone not in BACKBONES:
        import_backbones(cfg.imports)
    if cfg.backbone not in BACKBONES:
        _from_entry_points(cfg.backbone)
    if cfg.backbone not in BACKBONES:
        raise HmtlError(f"model.backbone: unknown backbone '{cfg.backbone}'; known: "
                        f"{', '.join(sorted(BACKBONES))} (your own: name its module in "
                        f"model.imports)")
    return BACKBONES[cfg.backbone]


def get_backbone(cfg: ModelConfig, in_channels: int, frames: int) -> "Backbone":
    backbone = backbone_class(cfg)(cfg, in_channels, frames)
    _checked_costs(backbone)
    return backbone


def backbone_code(cfg: ModelConfig) -> str | None:
    """What identifies a backbone's code beyond its name: None for hmtl's own (the package
    version covers them), else the class's declared `version` or a hash of its module's source."""
    cls = backbone_class(cfg)
    if cls.__module__ == __name__:
        return None
    declared = cls.__dict__.get("version")
    if declared is not None:
        return f"version:{declared}"
    try:
        source = inspect.getsource(sys.modules[cls.__module__])
    except (OSError, TypeError, KeyError):
        raise HmtlError(f"model.backbone: the source of '{cfg.backbone}' cannot be read to tell "
                        f"its versions apart; declare a class attribute version = '1'") from None
    return "sha256:" + hashlib.sha256(source.encode()).hexdigest()


def model_identity(cfg: ModelConfig) -> dict:
    """The model config as it enters a training's identity (see training/job.py)."""
    import dataclasses

    model = dataclasses.asdict(cfg)
    for name in NOT_IDENTITY:
        model.pop(name, None)
    for name, default in LATER_MODEL_DEFAULTS.items():
        if model.get(name) == default:
            model.pop(name)
    code = backbone_code(cfg)
    if code is not None:
        model["code"] = code
    return model


def _conv_len(n: int, k: int, stride: int = 1, pad: int = 0) -> int:
    return (n + 2 * pad - k) // stride + 1


class Backbone:
    """Shapes and costs of the blocks for one input size. Subclasses fill `shapes` (per-clip
    shape entering each block, and after the last) and implement `block`, `block_params`,
    `block_macs`, `prepare` and `pool`."""

    name = "base"
    # packed training (training/packing.py) runs K copies side by side on channels: true only
    # for blocks made of the layers it packs and whose forward never assumes a channel count
    packable = False

    def __init__(self, cfg: ModelConfig, in_channels: int, frames: int):
        self.cfg = cfg
        self.depth = cfg.blocks
        self.widths = cfg.block_widths
        self.shapes: list[tuple[int, ...]] = []

    @property
    def out_features(self) -> int:
        return self.widths[-1]

    @property
    def args(self) -> dict:
        """`model.args`: the options of your own backbone."""
        return self.cfg.args

    def block(self, d: int) -> nn.Module:
        raise NotImplementedError

    def block_params(self, d: int) -> int:
        """Trainable parameters of block d (1-based); measured from the built block unless a
        subclass gives a formula (which is then checked against the built block)."""
        return self._measured(d)[0]

    def block_macs(self, d: int) -> int:
        """Dense MACs of block d for one clip; measured unless a subclass gives a formula."""
        return self._measured(d)[1]

    def _measured(self, d: int) -> tuple[int, int]:
        key = (type(self), repr(self.cfg), tuple(self.shapes), d)
        if key not in _MEASURED:
            _MEASURED[key] = measured_costs(lambda: self.block(d), self.shapes[d - 1])
        return _MEASURED[key]

    def trace_shapes(self, in_channels: int, frames: int) -> None:
        """Fill `shapes` by running one dummy clip through `prepare` and the blocks: for a
        backbone that does not want to write its shape arithmetic by hand."""
        with torch.no_grad(), torch.random.fork_rng(devices=[]):     # see measured_costs
            h = self.prepare(torch.zeros(1, in_channels, frames))
            self.shapes = [tuple(h.shape[1:])]
            for d in range(1, self.depth + 1):
                h = self.block(d).eval()(h)
                self.shapes.append(tuple(h.shape[1:]))

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

    packable = True

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

    packable = True

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


# ----------------------------------------------------------------------------- measured costs

COUNTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
FOLDED = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, nn.PReLU)
_MEASURED: dict = {}


def measured_costs(block_factory: Callable[[], nn.Module],
                   shape: tuple[int, ...]) -> tuple[int, int]:
    """(trainable params, MACs for one clip of `shape`) of the block `block_factory()` builds:
    params counted, MACs summed over its convolutions and linear layers by forward hooks (batch
    norms fold into the convolution before them; activations and pooling cost none), as the
    formulas count them. Built under a forked RNG: whether a process has measured a block
    before must never shift the initial weights of the next model it trains."""
    with torch.random.fork_rng(devices=[]):
        return _measured_costs(block_factory, shape)


def _measured_costs(block_factory: Callable[[], nn.Module],
                    shape: tuple[int, ...]) -> tuple[int, int]:
    block = block_factory()
    params = sum(p.numel() for p in block.parameters() if p.requires_grad)
    for m in block.modules():
        own = any(True for _ in m.parameters(recurse=False))
        if own and not isinstance(m, COUNTED + FOLDED):
            raise HmtlError(f"model.backbone: cannot measure the MACs of a {type(m).__name__}; "
                            f"give the backbone a block_macs(d) formula")
    macs = [0]

    def hook(module, inputs, output):
        per_out = module.weight[0].numel()                 # C_in/groups × kernel, or in_features
        macs[0] += output.numel() * per_out

    handles = [m.register_forward_hook(hook) for m in block.modules() if isinstance(m, COUNTED)]
    try:
        with torch.no_grad():
            block.eval()(torch.zeros(1, *shape))
    finally:
        for h in handles:
            h.remove()
    return params, macs[0]


def _checked_costs(backbone: Backbone) -> None:
    """A backbone whose params/MACs formulas disagree with its built blocks would make every
    size in the results wrong: check each formula once per class, widths and input shape."""
    cls = type(backbone)
    key = (cls, tuple(backbone.widths), tuple(backbone.shapes), backbone.name)
    if key in _CHECKED:
        return
    if len(backbone.shapes) != backbone.depth + 1:
        raise HmtlError(f"model.backbone '{backbone.name}': shapes has {len(backbone.shapes)} "
                        f"entries, need {backbone.depth + 1} (input of each block and the output;"
                        f" call self.trace_shapes(in_channels, frames))")
    own = [m for m in ("block_params", "block_macs") if getattr(cls, m) is not getattr(Backbone, m)]
    for d in range(1, backbone.depth + 1) if own else ():
        params, macs = measured_costs(lambda: backbone.block(d), backbone.shapes[d - 1])
        given = {"block_params": backbone.block_params(d), "block_macs": backbone.block_macs(d)}
        measured = {"block_params": params, "block_macs": macs}
        for m in own:
            if given[m] != measured[m]:
                raise HmtlError(f"model.backbone '{backbone.name}': {m}({d}) gives {given[m]:,} "
                                f"but the built block has {measured[m]:,}; fix the formula or "
                                f"remove it (hmtl then measures the block)")
    _CHECKED.add(key)


_CHECKED: set = set()
