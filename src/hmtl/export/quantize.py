"""int8 weights with onnxruntime's DYNAMIC quantisation: convolution and linear weights are
stored as int8 (one scale per output channel), activations are quantised on
the fly at run time, so no calibration data is needed and the file shrinks about 4x.

The front end (when the graph starts from the waveform) stays in float: int8 DFT kernels and mel
filters would distort the features far more than int8 weights distort the network."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..errors import HmtlError
from .deps import need
from .onnx_export import METADATA_KEY, set_metadata

FRONTEND_SCOPE = ("/frontend/", "frontend.")    # torchscript node scopes, torch.export weights


def frontend_nodes(proto) -> list[str]:
    """Names of the nodes that compute the front end: by scope (torchscript exporter) or by
    consuming a front-end weight (torch.export names weights by their module path)."""
    inits = {i.name for i in proto.graph.initializer if i.name.startswith(FRONTEND_SCOPE[1])}
    return [n.name for n in proto.graph.node
            if n.name.startswith(FRONTEND_SCOPE[0]) or any(i in inits for i in n.input)]


def quantize_int8(src: str | Path, dst: str | Path) -> dict:
    """Write the int8 version of `src` to `dst`; returns what was done (for export.json)."""
    onnx = need("onnx")
    q = need("onnxruntime.quantization")
    proto = onnx.load(str(src))
    exclude = frontend_nodes(proto)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)       # its advice to pre-process changes nothing for these graphs
    try:
        q.quantize_dynamic(str(src), str(dst), weight_type=q.QuantType.QInt8,
                           per_channel=True, nodes_to_exclude=exclude,
                           op_types_to_quantize=["Conv", "MatMul", "Gemm"])
    except Exception as e:  # noqa: BLE001 - report any quantiser failure in one line
        raise HmtlError(f"{src}: int8 quantisation failed ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200]})") from None
    finally:
        root.setLevel(level)
    out = onnx.load(str(dst))
    meta = {p.key: p.value for p in proto.metadata_props}
    info = json.loads(meta.get(METADATA_KEY, "{}"))
    info.pop("format", None)
    set_metadata(out, {**info, "quantization": "dynamic int8 weights (onnxruntime)"})
    onnx.save(out, str(dst))
    return {"kind": "dynamic", "weights": "int8, per output channel",
            "activations": "uint8, at run time",
            "ops": ["Conv", "MatMul", "Gemm"], "float_nodes_kept": len(exclude)}
