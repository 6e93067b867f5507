"""Batches straight from in-memory tensors: no per-step Python data pipeline. Training takes a
random window of `frames` from each stored clip (when crop jitter stored extra frames);
evaluation always takes the centre window."""

from __future__ import annotations

import torch


def crop(x: torch.Tensor, frames: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, C, T_stored) -> (B, C, frames) float32; random offsets with a generator, else centre."""
    total = x.shape[-1]
    if total == frames:
        return x.float()
    if generator is None:
        start = (total - frames) // 2
        return x[..., start:start + frames].float()
    offsets = torch.randint(0, total - frames + 1, (x.shape[0],), generator=generator,
                            device=generator.device)
    index = offsets.to(x.device)[:, None] + torch.arange(frames, device=x.device)  # (B, frames)
    index = index[:, None, :].expand(-1, x.shape[1], -1)                           # (B, C, frames)
    return torch.gather(x, 2, index).float()


def train_batches(x: torch.Tensor, y: torch.Tensor, index: torch.Tensor, batch_size: int,
                  frames: int, generator: torch.Generator, values: torch.Tensor | None = None):
    """One epoch of shuffled (x, y) batches — (x, (y, values)) when regression targets are
    given; the last partial batch is kept unless it has a single clip (BatchNorm needs two)."""
    order = index[torch.randperm(len(index), generator=generator, device=generator.device)
                  .to(index.device)]
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        if len(rows) < 2:
            continue
        xb = crop(x[rows], frames, generator)
        yield (xb, y[rows]) if values is None else (xb, (y[rows], values[rows]))


def eval_batches(x: torch.Tensor, index: torch.Tensor, frames: int, batch_size: int = 256):
    for start in range(0, len(index), batch_size):
        yield crop(x[index[start:start + batch_size]], frames)
