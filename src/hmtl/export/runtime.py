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


def run_graph(sess, x: np.ndarray, tasks: list[str], batch: int = 64
              ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(logits, probabilities) per task for inputs `x` (N, …), `batch` rows at a time."""
    name = sess.get_inputs()[0].name
    logits: dict[str, list] = {t: [] for t in tasks}
    probs: dict[str, list] = {t: [] for t in tasks}
    wanted = [f"logits_{t}" for t in tasks] + [f"probs_{t}" for t in tasks]
    for start in range(0, len(x), batch):
        xb = np.ascontiguousarray(x[start:start + batch], dtype=np.float32)
        out = sess.run(wanted, {name: xb})
        for i, t in enumerate(tasks):
            logits[t].append(out[i])
            probs[t].append(out[len(tasks) + i])
    return ({t: np.concatenate(v) for t, v in logits.items()},
            {t: np.concatenate(v) for t, v in probs.items()})
