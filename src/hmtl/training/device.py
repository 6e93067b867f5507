"""Where a training runs: the device, bf16 autocast, torch.compile, the dataset's tensors
resident there, and the seed. Nothing here knows about tasks or trees."""

from __future__ import annotations

import warnings

import torch

from ..config import TrainConfig
from ..data.dataset import Dataset


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            return torch.device("cpu")  # a config written for a GPU still runs here
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    return torch.device(name)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)


def autocast(cfg: TrainConfig, device: torch.device):
    """bf16 autocast where asked for and useful (CUDA); a no-op context otherwise."""
    return torch.autocast(device.type, dtype=torch.bfloat16,
                          enabled=cfg.precision == "bf16" and device.type == "cuda")


class Autocast(torch.nn.Module):
    """Runs the wrapped model under bf16 autocast and returns float32 outputs, so that the
    training loop and the loss stay ignorant of precision."""

    def __init__(self, inner: torch.nn.Module, cfg: TrainConfig, device: torch.device):
        super().__init__()
        self.inner, self.cfg, self.device = inner, cfg, device

    def forward(self, x):
        with autocast(self.cfg, self.device):
            out = self.inner(x)
        return {t: o.float() for t, o in out.items()}


COMPILE_BACKEND = "inductor"   # a module constant so that tests can compile cheaply


class Compiled(torch.nn.Module):
    """Training steps through `torch.compile` of the wrapped model, evaluation eagerly (a
    compiled model would compile a second graph for eval mode, for a few validation passes).
    The compiled module is kept out of the module tree: the state dict stays the model's."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner
        object.__setattr__(self, "fast", torch.compile(inner, backend=COMPILE_BACKEND))

    def forward(self, x):
        return self.fast(x) if self.training else self.inner(x)


def compiled(module: torch.nn.Module, cfg: TrainConfig) -> torch.nn.Module:
    """`module` compiled where `train.compile` asks for it and torch can: where dynamo is not
    supported the module is returned with a warning, and a compiler that fails (e.g. no C++
    compiler for inductor) falls back to eager steps, as torch's `suppress_errors` does."""
    if not cfg.compile:
        return module
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        warnings.warn("train.compile: torch.compile is not supported here; training eagerly",
                      stacklevel=2)
        return module
    torch._dynamo.config.suppress_errors = True
    return Compiled(module)


_ON_DEVICE: dict[tuple[int, str], tuple] = {}


def on_device(data: Dataset, device: torch.device) -> tuple:
    """The dataset's features, labels and regression values (or None) on `device`, copied
    there once per process."""
    if device.type == "cpu":
        return data.x, data.y, data.values
    key = (id(data), str(device))
    if key not in _ON_DEVICE:
        _ON_DEVICE.clear()  # one dataset at a time is resident
        _ON_DEVICE[key] = (data.x.to(device), data.y.to(device),
                           None if data.values is None else data.values.to(device))
    return _ON_DEVICE[key]
