"""Binary weight masks for the pruning baselines (LTH, LT4REC).

A mask is installed with torch.nn.utils.parametrize: the module's `weight` becomes
`weight_orig * mask`, computed on every forward. The trained tensor (`original`) may drift where
the mask is 0 (AdamW's weight decay moves it), but the weight the model uses there is exactly
0 · w = 0 at every step, and its gradient is exactly 0. `plain_state` folds the masks back into
a plain state dict (zeros in place) that loads into a normal TreeModel.

Prunable: the weights of Conv1d/Conv2d/Linear layers (open_lth's default skips Conv1d; audio
models need it); the task heads only when asked; norms and biases never."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..utils.io import atomic_write_bytes, atomic_write_json

Masks = dict[str, torch.Tensor]          # parameter name ("blocks.0.0.0.weight") -> bool tensor
PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Linear)


def prunable_names(model: nn.Module, heads: bool = False) -> list[str]:
    """Names of the prunable weights of a model, in module order."""
    out = []
    for name, module in model.named_modules():
        if isinstance(module, PRUNABLE) and (heads or not name.startswith("heads.")):
            out.append(f"{name}.weight")
    return out


def full_masks(model: nn.Module, heads: bool = False) -> Masks:
    params = dict(model.named_parameters())
    return {n: torch.ones_like(params[n], dtype=torch.bool) for n in prunable_names(model, heads)}


def pruned_count(masks: Masks) -> int:
    return int(sum((~m).sum().item() for m in masks.values()))


def alive_count(masks: Masks) -> int:
    return int(sum(m.sum().item() for m in masks.values()))


class Mask(nn.Module):
    """weight = original · mask (one fixed mask)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask.float())

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w * self.mask


class TaskMasks(nn.Module):
    """weight = original · masks[active]: one mask per task, the active one chosen before each
    forward (sparse sharing: a task's batch sees only its own sub-network)."""

    def __init__(self, masks: torch.Tensor):              # (n_tasks, *weight shape)
        super().__init__()
        self.register_buffer("masks", masks.float())
        self.active = 0

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w * self.masks[self.active]


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, attr = name.rpartition(".")
    return model.get_submodule(path), attr


def apply_masks(model: nn.Module, masks: Masks) -> None:
    """Install the masks on `model` (in place)."""
    for name, mask in masks.items():
        module, attr = _owner(model, name)
        parametrize.register_parametrization(module, attr, Mask(mask.to(getattr(module, attr).device)))


def apply_task_masks(model: nn.Module, masks: list[Masks]) -> list[TaskMasks]:
    """Install one mask per task on every weight named in the first task's masks; returns the
    parametrizations, whose `active` selects the task."""
    out = []
    for name in masks[0]:
        module, attr = _owner(model, name)
        p = TaskMasks(torch.stack([m[name] for m in masks]).to(getattr(module, attr).device))
        parametrize.register_parametrization(module, attr, p)
        out.append(p)
    return out


def originals(model: nn.Module) -> dict[str, nn.Parameter]:
    """Parameter name -> the trained tensor behind a masked weight."""
    out = {}
    for name, module in model.named_modules():
        if parametrize.is_parametrized(module):
            for attr, plist in module.parametrizations.items():
                out[f"{name}.{attr}" if name else attr] = plist.original
    return out


def plain_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of a masked model as a plain model's: each masked weight is
    `original · mask` (zeros in place), the masks themselves are left out. With per-task masks
    the active task's mask applies."""
    out = {}
    for key, value in model.state_dict().items():
        if ".parametrizations." not in key:
            out[key] = value.detach().cpu()
        elif key.endswith(".original"):                 # "x.parametrizations.weight.original"
            path, _, attr = key[:-len(".original")].partition(".parametrizations.")
            with torch.no_grad():
                out[f"{path}.{attr}"] = getattr(model.get_submodule(path), attr).detach().cpu().clone()
    return out


def tensors_hash(items) -> str:
    """Content hash of (name, tensor) pairs: what a job's identity records of its masks."""
    h = hashlib.sha256()
    for name, t in items:
        arr = t.detach().cpu().contiguous().numpy()
        h.update(f"{name}|{arr.dtype}|{arr.shape}|".encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


def sparsity_report(masks: Masks, params: int) -> dict:
    """Per prunable layer and in total: size, weights kept, fraction pruned; and the model's
    non-zero parameters (its trainable params less the pruned weights)."""
    layers = {}
    for name, m in masks.items():
        size, kept = m.numel(), int(m.sum().item())
        layers[name] = {"size": size, "kept": kept, "sparsity": round(1 - kept / size, 6)}
    size = sum(v["size"] for v in layers.values())
    kept = sum(v["kept"] for v in layers.values())
    return {"layers": layers,
            "total": {"size": size, "kept": kept, "sparsity": round(1 - kept / max(1, size), 6)},
            "params": params, "nonzero_params": params - (size - kept)}


def save_masks(folder: Path, masks: Masks | dict[str, Masks], report: dict) -> None:
    """masks.pt (name -> bool tensor, or "task/name" -> bool tensor; loads with
    torch.load(weights_only=True)) and sparsity.json, next to a job's model.pt."""
    flat = {}
    for key, value in masks.items():
        if isinstance(value, dict):
            flat.update({f"{key}/{n}": m.bool().cpu() for n, m in value.items()})
        else:
            flat[key] = value.bool().cpu()
    buf = io.BytesIO()
    torch.save(flat, buf)
    atomic_write_bytes(Path(folder) / "masks.pt", buf.getvalue())
    atomic_write_json(Path(folder) / "sparsity.json", report)


def load_masks(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(Path(folder) / "masks.pt", map_location="cpu", weights_only=True)
