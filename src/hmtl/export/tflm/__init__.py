"""The `mcu` target: a tree as a full-integer int8 TensorFlow Lite model for microcontrollers,
run and checked in TensorFlow Lite Micro's own interpreter (the optional `mcu` extra).

Why in-house: the converters on PyPI either pull TensorFlow or an LLM-sized stack (litert-torch,
onnx2tf), or leave the convolutions in float (ExecuTorch's Cortex-M backend at the time of
writing); hmtl's models are a handful of operator kinds, so the conversion is small and exact:

    Conv1d/Conv2d + BatchNorm + ReLU   CONV_2D (or DEPTHWISE_CONV_2D), BN folded, ReLU fused;
                                       PAD in front when PyTorch's padding is not TFLite SAME
    MaxPool1d/2d                       MAX_POOL_2D (VALID, PyTorch's floor mode)
    mean over time (and frequency)     MEAN over H, W
    linear heads                       FULLY_CONNECTED, one int8 output per task (logits)

Quantisation follows the TFLite int8 specification: activations asymmetric per tensor from the
min/max over calibration clips (the same training clips as static int8 ONNX), weights symmetric
per output channel (per tensor for heads), biases int32 at input × weight scale. Everything is
NHWC: a 1-D model's features (C, T) enter as (1, 1, T, C), a 2-D model's as (1, C, T, 1).

The front end (log-mel) and the per-band input normalisation run on the host (on a device: its
DSP code), so the model's input is the normalised features, int8 at the input scale, and
`TflmSession` does that before each clip. Only hmtl's built-in backbones convert (tc_cnn,
ds_cnn); only classification heads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ...errors import HmtlError
from .flatbuffer import schema, to_tflite, weight_bytes
from .graph import MCU_BACKBONES, FoldedGraph, Layer, fold_tree, graph_macs, nhwc
from .int8 import QParams, activation_qparams, calibrate
from .runtime import (HOST_ARENA, TflmSession, arena_bytes, fits_in_arena, interpreter,
                      measure_tflm_latency)

__all__ = ["HOST_ARENA", "MCU_BACKBONES", "FoldedGraph", "Layer", "McuModel", "QParams",
           "TflmSession", "activation_qparams", "arena_bytes", "calibrate", "convert",
           "fits_in_arena", "fold_tree", "graph_macs", "interpreter", "mcu_summary",
           "measure_tflm_latency", "nhwc", "schema", "to_tflite", "weight_bytes"]


@dataclass
class McuModel:
    """A converted tree: the flatbuffer and what the host needs to feed and read it."""
    flatbuffer: bytes
    tasks: list[str]
    input: QParams
    outputs: dict[str, QParams]
    mean: np.ndarray              # per band: the host normalises features before quantising
    std: np.ndarray
    two_d: bool
    input_shape: tuple[int, int, int, int]   # NHWC, batch 1: the folded graph's
    macs: int                     # multiply-accumulates of one clip (convolutions and heads)
    float_flatbuffer: bytes       # the same graph in float32: the reference for size and speed

    @property
    def frames(self) -> int:
        return self.input_shape[2]

    def features_to_input(self, x: np.ndarray) -> np.ndarray:
        """Features (N, C, frames) -> the int8 NHWC inputs the model takes."""
        z = (x - self.mean[None, :, None]) / self.std[None, :, None]
        return self.input.quantize(nhwc(torch.from_numpy(z.astype(np.float32)), self.two_d)
                                   .numpy())

    def info(self) -> dict:
        return {"input": {"scale": self.input.scale, "zero_point": self.input.zero,
                          "layout": "NHWC (1, C, T, 1)" if self.two_d else "NHWC (1, 1, T, C)",
                          "normalisation": "per band (x - mean) / std on the host"},
                "outputs": {t: {"scale": q.scale, "zero_point": q.zero}
                            for t, q in self.outputs.items()}}


def convert(model, calibration: np.ndarray) -> McuModel:
    """Fold, calibrate on `calibration` features (N, C, frames) and write the flatbuffer."""
    for task, head in model.heads.items():
        if not isinstance(head, nn.Linear):
            raise HmtlError(f"mcu target: task '{task}' has no plain linear head")
    graph = fold_tree(model.eval())
    two_d = graph.two_d
    mean, std = _np(model.norm.mean), _np(model.norm.std)
    z = (torch.from_numpy(np.asarray(calibration, np.float32)) - model.norm.mean[:, None]) \
        / model.norm.std[:, None]
    params = calibrate(graph, nhwc(z, two_d))
    flat = to_tflite(graph, params, description=f"hmtl tree {model.spec.to_json()}")
    return McuModel(flat, list(model.tasks), params[0],
                    {t: params[i] for t, i in graph.outputs.items()}, mean, std, two_d,
                    graph.input_shape, graph_macs(graph),
                    to_tflite(graph, None, description="hmtl float32 reference"))


def mcu_summary(mcu: McuModel) -> dict:
    """What export.json records about a converted model: the scheme, the interpreter, the
    host-side input and output scaling, and its device figures (RAM: TFLM's measured arena)."""
    from ..deps import need

    arena = arena_bytes(mcu.flatbuffer)
    reference = {"bytes": len(mcu.float_flatbuffer),
                 "arena_bytes": arena_bytes(mcu.float_flatbuffer),
                 "latency_ms": round(measure_tflm_latency(mcu.float_flatbuffer)["median_ms"], 4),
                 "int8_latency_ms": round(measure_tflm_latency(mcu.flatbuffer)["median_ms"], 4),
                 "note": "the same graph in float32, in the same interpreter (TFLM reference "
                         "kernels on this host, batch 1, median of 100 runs)"}
    return {"method": "full-integer int8 (TFLite int8 scheme: activations asymmetric per "
                      "tensor from calibration min/max, weights symmetric per output channel, "
                      "heads per tensor, int32 biases)",
            "runtime": f"tflite-micro {need('tflite_micro').__version__}",
            "arena_bytes": arena, **mcu.info(), "float32_reference": reference,
            "figures": {"bytes": len(mcu.flatbuffer), "weight_bytes": weight_bytes(mcu.flatbuffer),
                        "macs": mcu.macs, "macs_frontend": 0, "peak_activation_bytes": arena,
                        "input_bytes": int(np.prod(mcu.input_shape))}}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)
