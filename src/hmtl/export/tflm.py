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

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import HmtlError

MCU_BACKBONES = ("tc_cnn", "ds_cnn")
HOST_ARENA = 4 * 1024 * 1024   # arena for runs on this host; the smallest that works is measured


# ----------------------------------------------------------------------------- folded graph

@dataclass
class Layer:
    """One int8 operator of the folded float graph; reads tensor `src`, writes a new one."""
    kind: str                                  # conv, dwconv, maxpool, mean, fc
    src: int
    weight: np.ndarray | None = None           # conv: (O, kh, kw, I); dwconv: (1, kh, kw, C)
    bias: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, bottom, left, right
    kernel: tuple[int, int] = (1, 1)           # maxpool
    relu: bool = False
    task: str | None = None                    # fc: its task


@dataclass
class FoldedGraph:
    """A tree with BatchNorm folded and ReLU fused, in NHWC; tensor 0 is the normalised input."""
    input_shape: tuple[int, int, int, int]
    two_d: bool = False
    layers: list[Layer] = field(default_factory=list)
    outputs: dict[str, int] = field(default_factory=dict)     # task -> tensor

    def add(self, layer: Layer) -> int:
        self.layers.append(layer)
        return len(self.layers)                # tensor i+1 is layer i's output

    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every tensor (NHWC, float) for a batch of normalised NHWC inputs: the calibration
        and the check that folding kept the model's function."""
        values = [x]
        for layer in self.layers:
            if layer.kind == "fc":
                values.append(F.linear(values[layer.src], torch.from_numpy(layer.weight),
                                       torch.from_numpy(layer.bias)))
                continue
            h = values[layer.src].permute(0, 3, 1, 2)                  # NCHW for torch
            top, bottom, left, right = layer.pad
            if layer.kind in ("conv", "dwconv"):
                h = F.pad(h, (left, right, top, bottom))
                w = torch.from_numpy(layer.weight)
                if layer.kind == "conv":
                    w, groups = w.permute(0, 3, 1, 2), 1                 # OHWI -> OIHW
                else:
                    w, groups = w.permute(3, 0, 1, 2), w.shape[-1]       # 1HWC -> C1HW
                h = F.conv2d(h, w, torch.from_numpy(layer.bias), layer.stride, groups=groups)
                h = F.relu(h) if layer.relu else h
            elif layer.kind == "maxpool":
                h = F.max_pool2d(h, layer.kernel, layer.stride)
            elif layer.kind == "mean":
                values.append(h.mean(dim=(2, 3)))
                continue
            values.append(h.permute(0, 2, 3, 1))
        return values

    def heads(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        values = self.run(x)
        return {t: values[i] for t, i in self.outputs.items()}


def nhwc(x: torch.Tensor, two_d: bool) -> torch.Tensor:
    """Features (B, C, T) -> NHWC: (B, 1, T, C) for a 1-D model, (B, C, T, 1) for a 2-D one."""
    return x[..., None] if two_d else x.permute(0, 2, 1)[:, None]


def fold_tree(model) -> FoldedGraph:
    """The TreeModel `model` (eval mode) as a FoldedGraph."""
    name = getattr(type(model.backbone), "name", type(model.backbone).__name__)
    if name not in MCU_BACKBONES:
        raise HmtlError(f"mcu target: backbone '{name}' is not supported (only "
                        f"{', '.join(MCU_BACKBONES)})")
    two_d = name == "ds_cnn"
    shape = model.backbone.shapes[0]
    c, t = (model.norm.mean.numel(), shape[-1])
    graph = FoldedGraph((1, c, t, 1) if two_d else (1, 1, t, c), two_d)
    h = [0]
    for blocks, parents in zip(model.blocks, model.parents):
        h = [_fold_block(graph, block, h[p]) for block, p in zip(blocks, parents)]
    pooled = [graph.add(Layer("mean", src)) for src in h]
    for task in model.tasks:
        head = model.heads[task]
        graph.outputs[task] = graph.add(Layer(
            "fc", pooled[model.leaves[task]], weight=_np(head.weight), bias=_np(head.bias),
            task=task))
    return graph


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _leaves(module: nn.Module) -> list[nn.Module]:
    children = list(module.children())
    if not children:
        return [module]
    return [leaf for child in children for leaf in _leaves(child)]


def _fold_block(graph: FoldedGraph, block: nn.Module, src: int) -> int:
    layers = [m for m in _leaves(block) if not isinstance(m, (nn.Dropout, nn.Identity))]
    i = 0
    while i < len(layers):
        m = layers[i]
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            bn = layers[i + 1] if i + 1 < len(layers) and isinstance(
                layers[i + 1], (nn.BatchNorm1d, nn.BatchNorm2d)) else None
            relu = i + 1 + (bn is not None) < len(layers) and isinstance(
                layers[i + 1 + (bn is not None)], nn.ReLU)
            src = graph.add(_conv_layer(m, bn, relu, src))
            i += 1 + (bn is not None) + relu
        elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
            src = graph.add(_pool_layer(m, src))
            i += 1
        else:
            raise HmtlError(f"mcu target: cannot convert {type(m).__name__} in a block "
                            f"(supported: Conv1d/Conv2d, BatchNorm, ReLU, MaxPool, Dropout)")
    return src


def _pair(v) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) and len(v) == 2 else \
        (1, int(v[0] if isinstance(v, (tuple, list)) else v))


def _conv_layer(conv: nn.Module, bn: nn.Module | None, relu: bool, src: int) -> Layer:
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise HmtlError("mcu target: only zero padding given as numbers converts")
    one_d = isinstance(conv, nn.Conv1d)
    w = _np(conv.weight)
    if one_d:
        w = w[:, :, None, :]                                           # (O, I, 1, k)
    bias = _np(conv.bias) if conv.bias is not None else np.zeros(w.shape[0], np.float32)
    if bn is not None:
        scale = _np(bn.weight) / np.sqrt(_np(bn.running_var) + bn.eps)
        w = w * scale[:, None, None, None]
        bias = (bias - _np(bn.running_mean)) * scale + _np(bn.bias)
    ph, pw = _pair(conv.padding) if not one_d else (0, int(conv.padding[0]))
    stride = _pair(conv.stride) if not one_d else (1, int(conv.stride[0]))
    if _pair(conv.dilation) != (1, 1) and not (one_d and conv.dilation[0] == 1):
        raise HmtlError("mcu target: dilated convolutions do not convert")
    pad = (ph, ph, pw, pw)
    if conv.groups == 1:
        return Layer("conv", src, np.ascontiguousarray(w.transpose(0, 2, 3, 1)),
                     bias.astype(np.float32), stride, pad, relu=relu)
    if conv.groups == conv.in_channels == conv.out_channels:
        return Layer("dwconv", src, np.ascontiguousarray(w.transpose(1, 2, 3, 0)),
                     bias.astype(np.float32), stride, pad, relu=relu)
    raise HmtlError("mcu target: grouped convolutions other than depthwise do not convert")


def _pool_layer(pool: nn.Module, src: int) -> Layer:
    if pool.padding not in (0, (0, 0)) or pool.ceil_mode or pool.dilation not in (1, (1, 1)):
        raise HmtlError("mcu target: only max pooling without padding or ceil mode converts")
    if isinstance(pool, nn.MaxPool1d):
        kernel, stride = (1, int(pool.kernel_size)), (1, int(pool.stride))
    else:
        kernel, stride = _pair(pool.kernel_size), _pair(pool.stride)
    return Layer("maxpool", src, kernel=kernel, stride=stride)


# ----------------------------------------------------------------------------- quantisation

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


# ----------------------------------------------------------------------------- flatbuffer

def schema():
    from .deps import need

    need("tflite_micro")     # the clear error when the extra is missing
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated
    return schema_py_generated


class _Builder:
    """Tensors, buffers and operators of one subgraph, in the schema's object API."""

    def __init__(self, tfl):
        self.tfl = tfl
        self.buffers = [tfl.BufferT()]                  # buffer 0: the empty one
        self.tensors: list = []
        self.operators: list = []
        self.codes: dict[int, int] = {}
        self.code_list: list = []

    def tensor(self, name: str, shape, dtype: int, data: np.ndarray | None = None,
               scale=None, zero=None, axis: int = 0) -> int:
        t = self.tfl.TensorT()
        t.name, t.shape, t.type = name, list(int(s) for s in shape), dtype
        if data is not None:
            buf = self.tfl.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        if scale is not None:
            q = self.tfl.QuantizationParametersT()
            q.scale = [float(s) for s in np.atleast_1d(scale)]
            q.zeroPoint = [int(z) for z in np.atleast_1d(zero)]
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code: int, inputs: list[int], outputs: list[int], options_type: int = 0,
           options=None, version: int = 1) -> None:
        if code not in self.codes:
            oc = self.tfl.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), version
            self.codes[code] = len(self.code_list)
            self.code_list.append(oc)
        o = self.tfl.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.codes[code], inputs, outputs
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.operators.append(o)

    def finish(self, inputs: list[int], outputs: list[int], description: str) -> bytes:
        import flatbuffers

        sub = self.tfl.SubGraphT()
        sub.tensors, sub.operators, sub.inputs, sub.outputs = \
            self.tensors, self.operators, inputs, outputs
        sub.name = "main"
        model = self.tfl.ModelT()
        model.version, model.subgraphs, model.buffers = 3, [sub], self.buffers
        model.operatorCodes, model.description = self.code_list, description
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def to_tflite(graph: FoldedGraph, params: list[QParams] | None,
              description: str = "hmtl") -> bytes:
    """The TFLite flatbuffer of a FoldedGraph, outputs in graph.outputs order: full-integer
    int8 with the calibrated `params`, or float32 with None (the same graph in the same
    interpreter: what int8 is compared with for size and speed)."""
    tfl = schema()
    b = _Builder(tfl)
    int8, int32, f32 = tfl.TensorType.INT8, tfl.TensorType.INT32, tfl.TensorType.FLOAT32
    shapes = _shapes(graph)

    def activation(name: str, shape, q: QParams | None) -> int:
        if params is None:
            return b.tensor(name, shape, f32)
        return b.tensor(name, shape, int8, scale=q.scale, zero=q.zero)

    def weights(name: str, w: np.ndarray, bias: np.ndarray, in_q: QParams | None,
                axis: int | None) -> tuple[int, int]:
        """Weights (per channel along `axis`, or per tensor) and bias tensors."""
        if params is None:
            return (b.tensor(f"{name}_w", w.shape, f32, w.astype(np.float32)),
                    b.tensor(f"{name}_b", bias.shape, f32, bias.astype(np.float32)))
        if axis is None:
            w_scale = np.array([max(float(np.abs(w).max()), 1e-12) / 127.0])
            qw = np.clip(np.round(w / w_scale[0]), -127, 127).astype(np.int8)
        else:
            reduce = tuple(a for a in range(w.ndim) if a != axis)
            w_scale = np.maximum(np.abs(w).max(axis=reduce), 1e-12) / 127.0
            shape = [1] * w.ndim
            shape[axis] = -1
            qw = np.clip(np.round(w / w_scale.reshape(shape)), -127, 127).astype(np.int8)
        b_scale = in_q.scale * w_scale
        qb = np.round(bias / b_scale).astype(np.int32)
        zeros = np.zeros(len(w_scale))
        return (b.tensor(f"{name}_w", w.shape, int8, qw, w_scale, zeros, axis or 0),
                b.tensor(f"{name}_b", qb.shape, int32, qb, b_scale, zeros))

    def q(i: int) -> QParams | None:
        return None if params is None else params[i]

    ids = [activation("input", shapes[0], q(0))]
    act = {False: tfl.ActivationFunctionType.NONE, True: tfl.ActivationFunctionType.RELU}
    for i, layer in enumerate(graph.layers):
        src, name = ids[layer.src], f"t{i + 1}"
        out = activation(f"{name}_{layer.kind}" + (f"_{layer.task}" if layer.task else ""),
                         shapes[i + 1], q(i + 1))
        if layer.kind in ("conv", "dwconv"):
            if any(layer.pad):       # PAD fills with the zero point: exactly PyTorch's zeros
                top, bottom, left, right = layer.pad
                padded = activation(f"{name}_pad", _padded(shapes[layer.src], layer.pad),
                                    q(layer.src))
                pads = np.array([[0, 0], [top, bottom], [left, right], [0, 0]], np.int32)
                b.op(tfl.BuiltinOperator.PAD,
                     [src, b.tensor(f"{name}_pads", (4, 2), int32, pads)], [padded],
                     tfl.BuiltinOptions.PadOptions, tfl.PadOptionsT(), 2)
                src = padded
            wt, bt = weights(name, layer.weight, layer.bias, q(layer.src),
                             0 if layer.kind == "conv" else 3)
            if layer.kind == "conv":
                opts = tfl.Conv2DOptionsT()
                code, otype = tfl.BuiltinOperator.CONV_2D, tfl.BuiltinOptions.Conv2DOptions
            else:
                opts = tfl.DepthwiseConv2DOptionsT()
                opts.depthMultiplier = 1
                code = tfl.BuiltinOperator.DEPTHWISE_CONV_2D
                otype = tfl.BuiltinOptions.DepthwiseConv2DOptions
            opts.padding = tfl.Padding.VALID
            opts.strideH, opts.strideW = layer.stride
            opts.fusedActivationFunction = act[layer.relu]
            b.op(code, [src, wt, bt], [out], otype, opts, 3)
        elif layer.kind == "maxpool":
            opts = tfl.Pool2DOptionsT()
            opts.padding = tfl.Padding.VALID
            opts.strideH, opts.strideW = layer.stride
            opts.filterHeight, opts.filterWidth = layer.kernel
            b.op(tfl.BuiltinOperator.MAX_POOL_2D, [src], [out], tfl.BuiltinOptions.Pool2DOptions,
                 opts, 2)
        elif layer.kind == "mean":
            opts = tfl.ReducerOptionsT()
            opts.keepDims = False
            axes = b.tensor(f"{name}_axes", (2,), int32, np.array([1, 2], np.int32))
            b.op(tfl.BuiltinOperator.MEAN, [src, axes], [out], tfl.BuiltinOptions.ReducerOptions,
                 opts, 2)
        elif layer.kind == "fc":
            wt, bt = weights(name, layer.weight, layer.bias, q(layer.src), None)
            b.op(tfl.BuiltinOperator.FULLY_CONNECTED, [src, wt, bt], [out],
                 tfl.BuiltinOptions.FullyConnectedOptions, tfl.FullyConnectedOptionsT(), 4)
        ids.append(out)
    return b.finish([ids[0]], [ids[i] for i in graph.outputs.values()], description)


def _padded(shape, pad) -> tuple[int, ...]:
    n, h, w, c = shape
    return (n, h + pad[0] + pad[1], w + pad[2] + pad[3], c)


def _shapes(graph: FoldedGraph) -> list[tuple[int, ...]]:
    with torch.no_grad():
        return [tuple(v.shape) for v in graph.run(torch.zeros(graph.input_shape))]


# ----------------------------------------------------------------------------- conversion

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
    frames: int
    macs: int                     # multiply-accumulates of one clip (convolutions and heads)
    float_flatbuffer: bytes       # the same graph in float32: the reference for size and speed

    @property
    def input_shape(self) -> tuple[int, ...]:
        c = len(self.mean)
        return (1, c, self.frames, 1) if self.two_d else (1, 1, self.frames, c)

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
                    graph.input_shape[2], graph_macs(graph),
                    to_tflite(graph, None, description="hmtl float32 reference"))


def graph_macs(graph: FoldedGraph) -> int:
    """Multiply-accumulates of one clip: every output element of a convolution costs its
    kernel's size (× input channels unless depthwise), a head in × out."""
    shapes = _shapes(graph)
    total = 0
    for i, layer in enumerate(graph.layers):
        out = int(np.prod(shapes[i + 1]))
        if layer.kind == "conv":
            total += out * int(np.prod(layer.weight.shape[1:]))
        elif layer.kind == "dwconv":
            total += out * int(np.prod(layer.weight.shape[1:3]))
        elif layer.kind == "fc":
            total += int(layer.weight.size)
    return total


def weight_bytes(flatbuffer: bytes) -> int:
    """Bytes of the model's constant buffers (weights, biases, shape constants)."""
    model = schema().ModelT.InitFromPackedBuf(flatbuffer, 0)
    return int(sum(len(b.data) for b in model.buffers if b.data is not None))


def mcu_summary(mcu: McuModel) -> dict:
    """What export.json records about a converted model: the scheme, the interpreter, the
    host-side input and output scaling, and its device figures (RAM: TFLM's measured arena)."""
    from .deps import need

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


# ----------------------------------------------------------------------------- runtime

def interpreter(flatbuffer: bytes, arena: int = HOST_ARENA):
    from .deps import need

    runtime = need("tflite_micro").runtime
    return runtime.Interpreter.from_bytes(bytes(flatbuffer), arena_size=arena)


_PROBE = ("import sys\n"
          "from tflite_micro.python.tflite_micro import runtime\n"
          "runtime.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2])).invoke()\n")


def fits_in_arena(path: str | Path, size: int) -> bool:
    """Whether TFLM allocates and runs the model at `path` in an arena of `size` bytes. In a
    child process: TFLM's Python wrapper can crash outright on some too-small arenas."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", _PROBE, str(path), str(int(size))],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return done.returncode == 0


def arena_bytes(flatbuffer: bytes, upper: int = 16 * 1024 * 1024) -> int:
    """The smallest tensor arena (bytes, to 16) on which TFLM allocates and runs the model:
    the RAM a microcontroller must set aside for it (activations, plus the interpreter's own
    bookkeeping, which on a 64-bit host is larger than on a 32-bit MCU)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(flatbuffer)
        low, high = 0, 16 * 1024
        while not fits_in_arena(path, high):
            low, high = high, high * 2
            if high > upper:
                raise HmtlError(f"mcu target: TFLM cannot run the model even with a {upper} B "
                                f"arena")
        while high - low > 16:
            mid = (low + high) // 2
            low, high = (low, mid) if fits_in_arena(path, mid) else (mid, high)
    return high


def measure_tflm_latency(model: str | Path | bytes, runs: int = 100, warmup: int = 10) -> dict:
    """Median and p90 ms of one invoke in TFLM's reference kernels on this host (batch 1, one
    thread): a relative figure; a microcontroller's own latency depends on its core."""
    import time

    interp = interpreter(model if isinstance(model, bytes) else Path(model).read_bytes())
    details = interp.get_input_details(0)
    interp.set_input(np.zeros(details["shape"], details["dtype"]), 0)
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        interp.invoke()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return {"median_ms": float(np.median(times)), "p90_ms": float(np.percentile(times, 90))}


class _Named:
    def __init__(self, name: str):
        self.name = name


class TflmSession:
    """The converted model in TFLM's interpreter, shaped like an onnxruntime session for
    runtime.run_graph: float features in (one clip at a time, as on the device), per task
    dequantised logits and their softmax out, under the float graph's output names."""

    def __init__(self, mcu: McuModel, output_names: dict[str, dict[str, str]],
                 input_name: str = "features"):
        self.mcu = mcu
        self.names = output_names               # kind -> task -> name (logits, probs)
        self.input_name = input_name
        self.interp = interpreter(mcu.flatbuffer)

    def get_inputs(self):
        return [_Named(self.input_name)]

    def get_outputs(self):
        return [_Named(n) for kind in ("logits", "probs") for n in self.names[kind].values()]

    def run(self, wanted, feed: dict) -> list[np.ndarray]:
        x = feed[self.input_name]
        if x.shape[-1] != self.mcu.frames:
            raise HmtlError(f"mcu target: the model takes {self.mcu.frames} frames, got "
                            f"{x.shape[-1]}")
        q = self.mcu.features_to_input(x)
        logits = {t: [] for t in self.mcu.tasks}
        for clip in q:
            self.interp.set_input(clip[None], 0)
            self.interp.invoke()
            for j, t in enumerate(self.mcu.tasks):
                logits[t].append(self.mcu.outputs[t].dequantize(self.interp.get_output(j))[0])
        result = {}
        for t, rows in logits.items():
            z = np.stack(rows)
            result[self.names["logits"][t]] = z
            e = np.exp(z - z.max(axis=1, keepdims=True))
            result[self.names["probs"][t]] = e / e.sum(axis=1, keepdims=True)
        names = list(wanted) if wanted is not None else [o.name for o in self.get_outputs()]
        return [result[n] for n in names]
