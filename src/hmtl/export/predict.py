"""Predict every task for audio files of any length, from a run folder (torch), a saved-model
folder (torch, hmtl.export.saved) or an exported .onnx file (onnxruntime, with the metadata
`hmtl export` embeds). Per task, by its type:

    classification  {"label", "probability"}: the most probable class and its probability
    regression      {"value"}: the prediction in the label's unit
    verification    {"embedding_norm"}: the length of the mean of the windows' unit embeddings
                    (1 for a clip of one window; lower when the windows disagree); with an
                    enrolment clip, {"score"}: the cosine similarity of the clip's embedding and
                    the enrolment clip's, in [-1, 1] (higher: more likely the same identity)

A clip is decoded to mono at the model's rate. Longer than the model's window: it is cut into
windows of that length with a hop of half a window (plus one window flush with the end, so the
tail is seen); classification probabilities and regression values are averaged over the windows,
and a verification's unit embeddings are averaged and then L2-normalised again. Not longer: it is
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
    """Waveform windows (W, samples) -> per task: probabilities (W, classes) of a
    classification, values (W,) of a regression in the label's unit, unit embeddings (W, dim)
    of a verification."""

    tasks: list[str]
    types: dict[str, str]
    classes: dict[str, list[str]]
    features: FeatureConfig

    def outputs(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def probabilities(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """The name before task types: every task's output (outputs)."""
        return self.outputs(windows)

    def type_of(self, task: str) -> str:
        return self.types.get(task, "classification")


class TorchPredictor(Predictor):
    def __init__(self, run_dir: str | Path, method: str = "hierarchical", seed: int | None = None):
        from ..data.frontend import build_frontend
        from .load import load_model, load_run

        run = load_run(run_dir)
        self.model, self.info = load_model(run, method, seed)
        self.tasks, self.classes, self.features = run.tasks, run.classes, run.cfg.features
        self.types, self.heads = run.types, run.heads
        self.frontend = build_frontend(self.features).eval()

    def outputs(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        from .onnx_export import head_outputs

        with torch.no_grad():
            out = head_outputs(self.model(self.frontend(torch.from_numpy(windows))), self.tasks,
                               self.heads)
        return {t: out[f"{READS[self.type_of(t)]}_{t}"].numpy() for t in self.tasks}


READS = {"classification": "probs", "regression": "value", "verification": "embedding"}
"""The kind of graph output predict reads for a task of each type."""


class SavedPredictor(Predictor):
    """A SavedModel (hmtl.export.saved): its forward already returns what predict reads."""

    def __init__(self, model):
        self.model = model
        self.tasks, self.types, self.classes = model.tasks, model.types, model.classes
        self.features = model.features

    def outputs(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        with torch.no_grad():
            out = self.model(torch.from_numpy(windows))
        return {t: v.numpy() for t, v in out.items()}


class OnnxPredictor(Predictor):
    def __init__(self, path: str | Path, threads: int | None = None):
        from .onnx_export import read_metadata
        from .runtime import session

        self.sess = session(path, threads)
        meta = read_metadata(path, self.sess)
        self.tasks, self.classes = list(meta["tasks"]), meta["classes"]
        self.types = {t: (meta.get("types") or {}).get(t, "classification") for t in self.tasks}
        known = {f.name for f in dataclasses.fields(FeatureConfig)}   # another version's extras
        self.features = from_dict(FeatureConfig, {k: v for k, v in meta["features"].items()
                                                  if k in known}, where=f"{path}: features")
        self.input = self.sess.get_inputs()[0].name
        try:
            self.output_names = [meta["outputs"][READS[self.type_of(t)]][t] for t in self.tasks]
        except KeyError as e:
            raise HmtlError(f"{path}: damaged hmtl metadata (no output for {e})") from None
        self.frontend = None
        if meta["input"] == "features":       # the graph starts after the front end: run it here
            from ..data.frontend import build_frontend

            self.frontend = build_frontend(self.features).eval()

    def outputs(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        x = windows
        if self.frontend is not None:
            import torch

            with torch.no_grad():
                x = self.frontend(torch.from_numpy(windows)).numpy()         # (W, C, frames)
        out = self.sess.run(self.output_names, {self.input: x.astype(np.float32)})
        return dict(zip(self.tasks, out))


def open_model(model: str | Path, method: str = "hierarchical", seed: int | None = None,
               threads: int | None = None) -> Predictor:
    """A run folder (torch), a saved-model folder (torch; method and seed are the saved ones)
    or an .onnx file exported by hmtl."""
    model = Path(model)
    if model.is_dir():
        from .saved import CARD, load_saved

        if (model / CARD).is_file():
            saved = load_saved(model)
            card = saved.card
            if (seed is not None and seed != card.seed) or method not in ("hierarchical",
                                                                          card.method):
                raise HmtlError(f"{model}: a saved model holds one training, the "
                                f"{card.method} model of seed {card.seed}; --method and --seed "
                                f"choose among a run folder's")
            return SavedPredictor(saved)
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
    """(mean over the clip's windows of each task's output, number of windows): probabilities
    of a classification, values of a regression, and for a verification the mean of the unit
    embeddings, NOT normalised again (unit_embedding does that; its length says how much the
    windows agree). Windows are cut a batch at a time, so an hour-long file needs no hour of
    copies."""
    feats = predictor.features
    wave = wave.astype(np.float32, copy=False)
    length = feats.num_samples
    starts = window_starts(len(wave), length) if len(wave) > length else [None]
    total: dict[str, np.ndarray] = {}
    for i in range(0, len(starts), batch):
        chunk = starts[i:i + batch]
        wins = (fix_length(wave, length, feats.crop)[None] if chunk == [None]
                else np.stack([wave[s:s + length] for s in chunk]))          # (W, samples)
        for t, p in predictor.outputs(wins).items():
            total[t] = total.get(t, 0.0) + p.sum(axis=0)
    return {t: v / len(starts) for t, v in total.items()}, len(starts)


def mono_at(waveform, rate: int, target: int) -> np.ndarray:
    """A mono clip (samples,) given by a caller, as float32 at `target` Hz (soxr, as decode
    resamples files). Raises HmtlError on another shape, a bad rate or non-finite samples."""
    wave = np.asarray(waveform, dtype=np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise HmtlError(f"waveform: expected a non-empty mono clip of shape (samples,), got "
                        f"shape {wave.shape} (mix channels down first, e.g. x.mean(axis=0))")
    if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool) or rate <= 0:
        raise HmtlError(f"sample_rate: expected a positive integer (Hz), got {rate!r}")
    if not np.isfinite(wave).all():
        raise HmtlError("waveform: NaN or Inf samples")
    if rate != target:
        import soxr

        wave = soxr.resample(wave, int(rate), target, quality="HQ").astype(np.float32)
    return wave


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


def unit_embedding(mean: np.ndarray) -> tuple[np.ndarray, float]:
    """(the mean of a clip's window embeddings L2-normalised, the mean's length before that)."""
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm > 0 else mean), norm


def enrolment(predictor: Predictor, path: str | Path) -> dict[str, np.ndarray]:
    """The enrolment clip's unit embedding per verification task (averaged over its windows
    like any clip). Raises HmtlError naming the file when it cannot be read, or when the model
    has no verification task."""
    tasks = [t for t in predictor.tasks if predictor.type_of(t) == "verification"]
    if not tasks:
        raise HmtlError(f"--enroll {path}: the model has no verification task (tasks: "
                        f"{', '.join(f'{t} ({predictor.type_of(t)})' for t in predictor.tasks)})")
    try:
        wave = read_audio(path, predictor.features.sample_rate)
    except BadAudio as e:
        raise HmtlError(f"--enroll {e}") from None
    means, _ = predict_wave(predictor, wave)
    return {t: unit_embedding(means[t])[0] for t in tasks}


def predict_file(predictor: Predictor, path: str | Path,
                 enroll: dict[str, np.ndarray] | None = None) -> dict:
    """{"file": path, "<task>": {...}, ...} with, per task by its type: {"label",
    "probability"} (classification), {"value"} (regression, in the label's unit),
    {"embedding_norm"} (verification: the length of the mean of the windows' unit embeddings,
    1 for one window) or, given the enrolment embeddings (enrolment()), {"score"}: the cosine
    similarity of the clip's and the enrolment clip's embeddings. Raises BadAudio."""
    wave = read_audio(path, predictor.features.sample_rate)
    means, _ = predict_wave(predictor, wave)
    return {"file": str(path), **summarise(predictor, means, enroll)}


def summarise(predictor: Predictor, means: dict[str, np.ndarray],
              enroll: dict[str, np.ndarray] | None = None) -> dict[str, dict]:
    """{task: prediction} from predict_wave's means, by the task's type as predict_file
    documents (rounded to 6 decimals)."""
    line: dict = {}
    for t in predictor.tasks:
        kind, out = predictor.type_of(t), means[t]
        if kind == "regression":
            line[t] = {"value": round(float(out), 6)}
        elif kind == "verification":
            unit, norm = unit_embedding(out)
            if enroll is not None and t in enroll:
                score = float(np.clip(np.dot(unit, enroll[t]), -1.0, 1.0))
                line[t] = {"score": round(score, 6)}
            else:
                line[t] = {"embedding_norm": round(min(norm, 1.0), 6)}
        else:
            k = int(np.argmax(out))
            line[t] = {"label": predictor.classes[t][k], "probability": round(float(out[k]), 6)}
    return line
