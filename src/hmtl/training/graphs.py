"""A training step replayed from a CUDA graph.

A step of a small model (or of a pack of them) is launch-bound on a GPU: a few hundred kernels
of a few microseconds each, every one launched from Python. Measured on an H200 here: 5-6 ms per
step of one small model however little arithmetic it has. A CUDA graph records the kernels of one
step once and replays them with a single launch.

`GraphedStep(body, optimizer, device)` calls `body(*inputs)` (forward, loss, backward, optimizer
step; no host synchronisation and no zero_grad: gradients are set to None before every eager
step and before the capture, so backward writes fresh ones). Each distinct input shape first runs
`WARMUP` eager steps on a side stream (cuDNN picks its kernels, the optimizer creates its state),
then is captured; every later batch of that shape is copied into the graph's static inputs and
the graph is replayed. Warm-up steps are real steps, so the sequence of updates is the eager one.
The learning rate must live on the device (`make_optimizer(..., capturable=True)`).

If a capture fails (an operation that cannot be captured), the step warns once and stays eager:
slower, never wrong.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Callable

import torch

WARMUP = 2


class GraphedStep:
    def __init__(self, body: Callable[..., None], optimizer: torch.optim.Optimizer,
                 device: torch.device | str = "cuda", enabled: bool = True):
        self.body, self.opt = body, optimizer
        self.device = torch.device(device)
        self.enabled = enabled and self.device.type == "cuda" and torch.cuda.is_available()
        self.graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, list[torch.Tensor]]] = {}
        self.seen: Counter = Counter()
        self.replays = 0
        self.failure: str | None = None

    def __call__(self, *inputs: torch.Tensor) -> None:
        if not self.enabled:
            self._eager(inputs)
            return
        # streams, capture and replay belong to the current device: make it the model's
        # (train.device: cuda:1 in a process whose current device is cuda:0)
        with torch.cuda.device(self.device):
            self._graphed(inputs)

    def _graphed(self, inputs) -> None:
        key = tuple((tuple(t.shape), t.dtype) for t in inputs)
        if key in self.graphs:
            graph, static = self.graphs[key]
            for dst, src in zip(static, inputs):
                dst.copy_(src)
            graph.replay()
            self.replays += 1
            return
        self.seen[key] += 1
        if self.seen[key] <= WARMUP:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self._eager(inputs)
            torch.cuda.current_stream().wait_stream(side)
            return
        self._capture(key, inputs)

    def _eager(self, inputs) -> None:
        self.opt.zero_grad(set_to_none=True)
        self.body(*inputs)

    def _capture(self, key: tuple, inputs) -> None:
        static = [t.clone() for t in inputs]
        graph = torch.cuda.CUDAGraph()
        torch.cuda.synchronize()
        self.opt.zero_grad(set_to_none=True)
        try:
            with torch.cuda.graph(graph):
                self.body(*static)
        except Exception as err:  # noqa: BLE001 - any capture failure: fall back, say why
            self.enabled = False
            self.failure = f"{type(err).__name__}: {err}".splitlines()[0]
            warnings.warn(f"CUDA graph capture failed, training eagerly: {self.failure}",
                          RuntimeWarning, stacklevel=2)
            torch.cuda.synchronize()
            self._eager(inputs)
            return
        self.graphs[key] = (graph, static)
        graph.replay()
        self.replays += 1
