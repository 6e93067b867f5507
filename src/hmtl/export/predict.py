"""Predict every task's label for audio files of any length, from a run folder (torch) or an
exported .onnx file (onnxruntime, with the metadata `hmtl export` embeds).

A clip is decoded to mono at the model's rate. Longer than the model's window: it is cut into
windows of that length with a hop of half a window (plus one window flush with the end, so the
tail is seen) and each task's probabilities are averaged over the windows. Not longer: it is
cropped or zero-padded as in training (hmtl.data.audio.fix_length with the run's crop policy,
centre by default) and predicted once."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from ..config import FeatureConfig, from_dict
from ..data.audio import BadAudio, decode, fix_length
from ..errors import HmtlError


class Predictor:
    """Waveform windows (W, samples) -> probabilities per task (W, classes)."""

    tasks: list[str]
    classes: dict[str, list[str]]
    features: FeatureConfig

    def probabilities(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError


class TorchPredictor(Predictor):
    def __init__(self, run_dir: str | Path, method: str = "hierarchical", seed: int | None = None):
        from ..data.frontend import build_frontend
        from .load import load_model, load_run

        run = load_run(run_dir)
        self.model, self.info = load_model(run, method, seed)
        self.tasks, self.classes, self.features = run.tasks, run.classes, run.cfg.features
        self.frontend = build_frontend(self.features).eval()

    def probabilities(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        with torch.no_grad():
            out = self.model(self.frontend(torch.from_numpy(windows)))
            return {t: torch.softmax(out[t], dim=-1).numpy() for t in self.tasks}


class OnnxPredictor(Predictor):
    def __init__(self, path: str | Path, threads: int | None = None):
        from .onnx_export import read_metadata
        from .runtime import session

        self.sess = session(path, threads)
        meta = read_metadata(path, self.sess)
        self.tasks, self.classes = list(meta["tasks"]), meta["classes"]
        known = {f.name for f in dataclasses.fields(FeatureConfig)}   # another version's extras
        self.features = from_dict(FeatureConfig, {k: v for k, v in meta["features"].items()
                                                  if k in known}, where=f"{path}: features")
        self.input = self.sess.get_inputs()[0].name
        self.outputs = [meta["outputs"]["probs"][t] for t in self.tasks]
        self.frontend = None
        if meta["input"] == "features":       # the graph starts after the front end: run it here
            from ..data.frontend import build_frontend

            self.frontend = build_frontend(self.features).eval()

    def probabilities(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        x = windows
        if self.frontend is not None:
            import torch

            with torch.no_grad():
                x = self.frontend(torch.from_numpy(windows)).numpy()         # (W, C, frames)
        out = self.sess.run(self.outputs, {self.input: x.astype(np.float32)})
        return dict(zip(self.tasks, out))


def open_model(model: str | Path, method: str = "hierarchical", seed: int | None = None,
               threads: int | None = None) -> Predictor:
    """A run folder (torch) or an .onnx file exported by hmtl."""
    model = Path(model)
    if model.is_dir():
        return TorchPredictor(model, method, seed)
    if model.is_file():
        return OnnxPredictor(model, threads)
    raise HmtlError(f"{model}: neither a run folder nor an .onnx file")


def window_starts(n: int, length: int) -> list[int]:
    """Where the windows of a clip of n > length samples start: every length//2 samples,
    plus one ending at the clip's end if the last one falls short of it."""
    hop = max(1, length // 2)
    starts = list(range(0, n - length + 1, hop))
    if starts[-1] + length < n:
        starts.append(n - length)
    return starts


def windows(wave: np.ndarray, length: int, crop: str = "center") -> np.ndarray:
    """(W, length): one padded/cropped window for a clip of up to `length` samples, else the
    windows of window_starts."""
    if wave.shape[-1] <= length:
        return fix_length(wave, length, crop)[None]
    return np.stack([wave[s:s + length] for s in window_starts(wave.shape[-1], length)])


def predict_wave(predictor: Predictor, wave: np.ndarray, batch: int = 32
                 ) -> tuple[dict[str, np.ndarray], int]:
    """(mean probabilities per task over the clip's windows, number of windows). Windows are
    cut a batch at a time, so an hour-long file needs no hour of copies."""
    feats = predictor.features
    wave = wave.astype(np.float32, copy=False)
    length = feats.num_samples
    starts = window_starts(len(wave), length) if len(wave) > length else [None]
    total: dict[str, np.ndarray] = {}
    for i in range(0, len(starts), batch):
        chunk = starts[i:i + batch]
        wins = (fix_length(wave, length, feats.crop)[None] if chunk == [None]
                else np.stack([wave[s:s + length] for s in chunk]))          # (W, samples)
        for t, p in predictor.probabilities(wins).items():
            total[t] = total.get(t, 0.0) + p.sum(axis=0)
    return {t: v / len(starts) for t, v in total.items()}, len(starts)


def read_audio(path: str | Path, rate: int) -> np.ndarray:
    """Decode one file; any failure becomes a BadAudio naming the file."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise BadAudio(f"{path}: file not found") from None
    except IsADirectoryError:
        raise BadAudio(f"{path}: is a directory, not an audio file") from None
    except OSError as e:
        raise BadAudio(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        return decode(data, rate)
    except BadAudio as e:        # soundfile names the in-memory buffer, not the file: drop that
        raise BadAudio(f"{path}: {re.sub(r'Error opening <[^>]*>: ', '', str(e))}") from None


def predict_file(predictor: Predictor, path: str | Path) -> dict:
    """{"file": path, "<task>": {"label": ..., "probability": ...}, ...}; raises BadAudio."""
    wave = read_audio(path, predictor.features.sample_rate)
    probs, _ = predict_wave(predictor, wave)
    line: dict = {"file": str(path)}
    for t in predictor.tasks:
        k = int(np.argmax(probs[t]))
        line[t] = {"label": predictor.classes[t][k], "probability": round(float(probs[t][k]), 6)}
    return line
