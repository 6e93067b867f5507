"""Running a converted model in TensorFlow Lite Micro's interpreter: its arena, its latency, and
a session shaped like onnxruntime's for the export's checks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...errors import HmtlError

if TYPE_CHECKING:
    from . import McuModel

HOST_ARENA = 4 * 1024 * 1024   # arena for runs on this host; the smallest that works is measured


def interpreter(flatbuffer: bytes, arena: int = HOST_ARENA):
    from ..deps import need

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
