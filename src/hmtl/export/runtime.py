"""onnxruntime sessions and running an exported graph: batches in, per-task arrays out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import HmtlError
from .deps import need


def session(path: str | Path, threads: int | None = None):
    """A CPU InferenceSession; `threads` fixes intra- and inter-op threads (latency: 1)."""
    ort = need("onnxruntime")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = threads
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime's own exception types
        raise HmtlError(f"{path}: onnxruntime cannot load it "
                        f"({str(e).splitlines()[0][:200]})") from None


def run_graph(sess, x: np.ndarray, names: list[str] | None = None, batch: int = 64
              ) -> dict[str, np.ndarray]:
    """{output name: array} for inputs `x` (N, …), `batch` rows at a time; `names`: the outputs
    wanted (default: every output of the graph)."""
    name = sess.get_inputs()[0].name
    wanted = list(names) if names is not None else [o.name for o in sess.get_outputs()]
    parts: dict[str, list] = {n: [] for n in wanted}
    for start in range(0, len(x), batch):
        xb = np.ascontiguousarray(x[start:start + batch], dtype=np.float32)
        for n, out in zip(wanted, sess.run(wanted, {name: xb})):
            parts[n].append(out)
    return {n: np.concatenate(v) for n, v in parts.items()}
