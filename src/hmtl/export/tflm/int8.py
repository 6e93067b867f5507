"""Int8 parameters of the TFLite scheme: asymmetric activations from calibration min/max."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .graph import FoldedGraph


@dataclass(frozen=True)
class QParams:
    scale: float
    zero: int

    def quantize(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(x / self.scale) + self.zero, -128, 127).astype(np.int8)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        return (q.astype(np.float32) - self.zero) * self.scale


def activation_qparams(low: float, high: float) -> QParams:
    """Asymmetric int8 over [low, high] widened to hold 0 (TFLite's int8 activations)."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if high - low < 1e-8:
        high = low + 1e-8
    scale = (high - low) / 255.0
    zero = int(np.clip(round(-128 - low / scale), -128, 127))
    return QParams(scale, zero)


def calibrate(graph: FoldedGraph, inputs: torch.Tensor) -> list[QParams]:
    """Per tensor: int8 parameters from its min/max over the calibration inputs (normalised,
    NHWC). A max-pool's output keeps its input's parameters, as TFLite requires."""
    low = [np.inf] * (len(graph.layers) + 1)
    high = [-np.inf] * (len(graph.layers) + 1)
    with torch.no_grad():
        for start in range(0, len(inputs), 64):
            for i, v in enumerate(graph.run(inputs[start:start + 64])):
                low[i], high[i] = min(low[i], float(v.min())), max(high[i], float(v.max()))
    params = [activation_qparams(lo, hi) for lo, hi in zip(low, high)]
    for i, layer in enumerate(graph.layers):
        if layer.kind == "maxpool":
            params[i + 1] = params[layer.src]
    return params
