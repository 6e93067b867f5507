"""The clips static int8 quantisation is calibrated on: a seeded draw of training clips (never
test clips, whose metrics the export reports), as the graph takes them: features (centre
window, as evaluation crops) or decoded waveforms when the front end is in the graph.

128 clips by default. On RAVDESS (1,008 training clips, 216 test clips; independent, flat and
hierarchical models) 128, 256 and 512 clips gave test accuracies within two clips of each other
and of float, 128 at least as close as the others; min-max ranges settle after ~100 clips, and
128 feature windows calibrate in under a second. Fewer when the training split is smaller."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import HmtlError
from ..training.batches import crop
from .load import Run

CALIBRATION_CLIPS = 128
TRAIN = 0                       # data/split.npy: 0 train, 1 validation, 2 test


def calibration_rows(run: Run, clips: int = CALIBRATION_CLIPS, seed: int = 0) -> np.ndarray:
    """Rows of data/x.npy drawn from the training split, sorted."""
    if clips < 1:
        raise HmtlError(f"calibration clips: must be >= 1, got {clips}")
    path = run.dir / "data" / "split.npy"
    if not path.is_file():
        raise HmtlError(f"{path}: missing; static int8 needs training clips to calibrate on")
    rows = np.flatnonzero(np.load(path, allow_pickle=False) == TRAIN)
    if not len(rows):
        raise HmtlError(f"{path}: no training clips to calibrate static int8 on")
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(rows)[:clips])


def calibration_inputs(run: Run, waveform: bool, clips: int = CALIBRATION_CLIPS,
                       seed: int = 0) -> np.ndarray:
    """(N, C, frames) features or (N, samples) waveforms, float32, of the calibration clips."""
    rows = calibration_rows(run, clips, seed)
    if waveform:
        from .check import audio_paths, load_wave

        paths = [audio_paths(run)[i] for i in rows]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise HmtlError(f"{missing[0]}: training clip not found ({len(missing)} of the "
                            f"{len(paths)} calibration clips missing)")
        return np.stack([load_wave(p, run.cfg.features) for p in paths]).astype(np.float32)
    path = run.dir / "data" / "x.npy"
    if not path.is_file():
        raise HmtlError(f"{path}: missing; static int8 needs the training features to "
                        f"calibrate on")
    x = np.load(path, mmap_mode="r", allow_pickle=False)
    return crop(torch.from_numpy(np.asarray(x[rows])), run.frames).numpy().astype(np.float32)


def reader(inputs: np.ndarray, name: str):
    """An onnxruntime CalibrationDataReader feeding `inputs` one clip at a time (batch 1, as
    the graph runs on a device)."""
    from .deps import need

    base = need("onnxruntime.quantization").CalibrationDataReader

    class Clips(base):
        def __init__(self):
            self.rows = iter(range(len(inputs)))

        def get_next(self):
            i = next(self.rows, None)
            return None if i is None else {name: np.ascontiguousarray(inputs[i:i + 1])}

        def rewind(self):
            self.rows = iter(range(len(inputs)))

    return Clips()
