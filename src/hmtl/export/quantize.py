"""int8 versions of an exported graph, with onnxruntime's quantiser.

STATIC (quantize_static_int8, target onnx-int8, the default int8): QDQ format, ranges of the
activations calibrated on training clips (calibrate.py). Convolutions (with their fused ReLU)
and max-pools run on 8-bit integers end to end; onnxruntime fuses each DequantizeLinear ->
Conv -> QuantizeLinear into one integer kernel, which makes it as fast as float or faster at
batch 1. Weights: 8 bits, one scale per output channel, stored as uint8 with zero point 128
(symmetric). On x86 CPUs with AVX2 but no VNNI, onnxruntime multiplies uint8 activations by
int8 weights with an instruction that saturates: measured on RAVDESS, int8 weights cost up to
10 points of accuracy unless cut to 7 bits (reduce_range), which still cost 2-3 points on the
flat model; uint8 weights use an exact kernel and keep every task within a clip or two of float.
The heads (Gemm), the pooling mean and the softmax stay float: a few hundred weights, and the
outputs keep float precision.

DYNAMIC (quantize_int8, target onnx-int8-dynamic; `--int8` before static existed): weights
int8, activations quantised on the fly at run time; no calibration data, but ConvInteger is
slower than float on most CPUs.

Either way the front end (when the graph starts from the waveform) stays in float: int8 DFT
kernels and mel filters would distort the features far more than int8 weights distort the
network."""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import HmtlError
from .deps import need
from .onnx_export import METADATA_KEY, set_metadata

FRONTEND_SCOPE = ("/frontend/", "frontend.")    # torchscript node scopes, torch.export weights
STATIC_OPS = ["Conv", "Relu", "MaxPool"]         # the backbone; heads, pooling mean stay float
DYNAMIC_OPS = ["Conv", "MatMul", "Gemm"]


def frontend_nodes(proto) -> list[str]:
    """Names of the nodes that compute the front end: by scope (torchscript exporter) or by
    consuming a front-end weight (torch.export names weights by their module path)."""
    inits = {i.name for i in proto.graph.initializer if i.name.startswith(FRONTEND_SCOPE[1])}
    return [n.name for n in proto.graph.node
            if n.name.startswith(FRONTEND_SCOPE[0]) or any(i in inits for i in n.input)]


def frontend_words(excluded: int, waveform: bool) -> str:
    return (f"in the graph, float (not quantised; {excluded} nodes)" if waveform
            else "out of the graph (input: features)")


@contextmanager
def _quiet_quantiser():
    """onnxruntime's quantiser logs advice to pre-process through the root logger; for these
    graphs (batch norm folded at export) it changes nothing."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _failed(src, e: Exception) -> HmtlError:
    return HmtlError(f"{src}: int8 quantisation failed ({type(e).__name__}: "
                     f"{(str(e).splitlines() or [''])[0][:200]})")


def _copy_metadata(src_proto, dst: Path, quantization: str) -> None:
    onnx = need("onnx")
    out = onnx.load(str(dst))
    meta = {p.key: p.value for p in src_proto.metadata_props}
    info = json.loads(meta.get(METADATA_KEY, "{}"))
    info.pop("format", None)
    set_metadata(out, {**info, "quantization": quantization})
    onnx.save(out, str(dst))


def quantize_int8(src: str | Path, dst: str | Path) -> dict:
    """Write the DYNAMIC int8 version of `src` to `dst`; returns what was done (export.json)."""
    onnx = need("onnx")
    q = need("onnxruntime.quantization")
    proto = onnx.load(str(src))
    exclude = frontend_nodes(proto)
    with _quiet_quantiser():
        try:
            q.quantize_dynamic(str(src), str(dst), weight_type=q.QuantType.QInt8,
                               per_channel=True, nodes_to_exclude=exclude,
                               op_types_to_quantize=DYNAMIC_OPS)
        except Exception as e:  # noqa: BLE001 - report any quantiser failure in one line
            raise _failed(src, e) from None
    _copy_metadata(proto, Path(dst), "dynamic int8 weights (onnxruntime)")
    return {"kind": "dynamic", "weights": "int8, per output channel",
            "activations": "uint8, at run time",
            "ops": list(DYNAMIC_OPS), "float_nodes_kept": len(exclude)}


def quantize_static_int8(src: str | Path, dst: str | Path, inputs: np.ndarray,
                         waveform: bool = False, calibration: dict | None = None) -> dict:
    """Write the STATIC int8 (QDQ) version of `src` to `dst`, activation ranges calibrated on
    `inputs` (N clips as the graph takes them, fed one at a time); returns what was done
    (export.json). `calibration`: how the clips were chosen, recorded as given."""
    onnx = need("onnx")
    q = need("onnxruntime.quantization")
    from .calibrate import reader

    proto = onnx.load(str(src))
    exclude = frontend_nodes(proto)
    name = proto.graph.input[0].name
    with _quiet_quantiser():
        try:
            q.quantize_static(str(src), str(dst), reader(inputs, name),
                              quant_format=q.QuantFormat.QDQ, per_channel=True,
                              reduce_range=False, activation_type=q.QuantType.QUInt8,
                              weight_type=q.QuantType.QUInt8, op_types_to_quantize=STATIC_OPS,
                              nodes_to_exclude=exclude,
                              calibrate_method=q.CalibrationMethod.MinMax,
                              extra_options={"WeightSymmetric": True,
                                             "ActivationSymmetric": False})
        except Exception as e:  # noqa: BLE001 - report any quantiser failure in one line
            raise _failed(src, e) from None
    _copy_metadata(proto, Path(dst), "static int8 QDQ, calibrated (onnxruntime)")
    return {"kind": "static", "format": "QDQ",
            "weights": "8-bit per output channel (uint8, symmetric: zero point 128)",
            "activations": "uint8 per tensor, asymmetric, ranges calibrated (min-max)",
            "ops": list(STATIC_OPS), "float_ops": "heads (Gemm), pooling mean, softmax",
            "calibration": {"clips": int(len(inputs)), **(calibration or {}),
                            "method": "MinMax", "batch": 1},
            "frontend": frontend_words(len(exclude), waveform),
            "float_nodes_kept": len(exclude)}
