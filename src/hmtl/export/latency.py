"""Per-clip latency and file size of exported graphs, measured the way a small device runs
them: onnxruntime on the CPU, batch 1, one intra-op thread, the median of many runs after a
warm-up."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np

from .deps import need
from .runtime import session


def onnx_bytes(path: str | Path) -> int:
    return os.path.getsize(path)


def measure_latency(path: str | Path, runs: int = 100, warmup: int = 10, seed: int = 0) -> dict:
    """{'median_ms', 'p90_ms', 'runs', 'input_shape'} of one clip through the graph at `path`.
    The input is random, of the graph's static sizes with batch 1 and its training length for
    the dynamic time axis (from the file's metadata)."""
    from .onnx_export import read_metadata

    need("onnxruntime")
    sess = session(path, threads=1)
    meta = read_metadata(path, sess)
    inp = sess.get_inputs()[0]
    shape = [1] + [d if isinstance(d, int) else meta["length"] for d in inp.shape[1:]]
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if meta.get("input") == "waveform":
        x *= 0.1
    outputs = [o.name for o in sess.get_outputs()]
    feed = {inp.name: x}
    for _ in range(warmup):
        sess.run(outputs, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sess.run(outputs, feed)
        times.append(1000.0 * (time.perf_counter() - start))
    times.sort()
    return {"median_ms": statistics.median(times),
            "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))],
            "runs": runs, "warmup": warmup, "input_shape": shape}
