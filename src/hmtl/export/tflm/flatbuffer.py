"""The TFLite flatbuffer of a folded graph, int8 or float32, written with the schema's object API
(from the tflite-micro package)."""

from __future__ import annotations

import numpy as np

from .graph import FoldedGraph, shapes_of
from .int8 import QParams


def schema():
    from ..deps import need

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
    shapes = shapes_of(graph)

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


def weight_bytes(flatbuffer: bytes) -> int:
    """Bytes of the model's constant buffers (weights, biases, shape constants)."""
    model = schema().ModelT.InitFromPackedBuf(flatbuffer, 0)
    return int(sum(len(b.data) for b in model.buffers if b.data is not None))
