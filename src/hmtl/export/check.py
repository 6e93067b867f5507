"""Does the exported graph compute what the trained model computes? Parity on random and real
inputs (max abs difference of logits and probabilities), and per-task test accuracy of torch,
the float ONNX model and the int8 one, on the same inputs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from ..data.audio import decode, fix_length
from ..data.frontend import build_frontend
from ..errors import HmtlError
from ..training.batches import crop
from .load import Run
from .onnx_export import example_input
from .runtime import run_graph

TOLERANCE = 1e-4


@torch.no_grad()
def torch_outputs(model, x: np.ndarray, frontend=None, batch: int = 64
                  ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(logits, probabilities) per task from the torch model (and torch.stft front end)."""
    logits: dict[str, list] = {t: [] for t in model.tasks}
    for start in range(0, len(x), batch):
        xb = torch.from_numpy(np.ascontiguousarray(x[start:start + batch], dtype=np.float32))
        out = model(frontend(xb) if frontend is not None else xb)
        for t in model.tasks:
            logits[t].append(out[t].numpy())
    cat = {t: np.concatenate(v) for t, v in logits.items()}
    return cat, {t: torch.softmax(torch.from_numpy(v), dim=-1).numpy() for t, v in cat.items()}


def max_abs_diff(a: tuple[dict, dict], b: tuple[dict, dict]) -> float:
    return float(max(np.abs(a[k][t] - b[k][t]).max() for k in (0, 1) for t in a[0]))


def accuracy(logits: dict[str, np.ndarray], y: np.ndarray, tasks: list[str]) -> dict[str, float]:
    """Per task, over the clips labelled for it (y columns follow `tasks`, -1 = unlabelled)."""
    out = {}
    for j, t in enumerate(tasks):
        mask = y[:, j] >= 0
        hits = logits[t][mask].argmax(axis=1) == y[mask, j]
        out[t] = float(hits.mean()) if mask.any() else None
    return out


# ----------------------------------------------------------------------------- inputs

def rows_of_test_split(run: Run) -> np.ndarray:
    split = np.load(run.dir / "data" / "split.npy", allow_pickle=False)
    return np.flatnonzero(split == 2)


def features_of_test_split(run: Run, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Test-split features (N, C, frames) float32 (centre window, as evaluation takes it) and
    labels (N, tasks)."""
    rows = rows_of_test_split(run)[:limit]
    x = np.load(run.dir / "data" / "x.npy", mmap_mode="r", allow_pickle=False)
    y = np.load(run.dir / "data" / "y.npy", allow_pickle=False)
    feats = crop(torch.from_numpy(np.asarray(x[rows])), run.frames).numpy()
    return feats, y[rows]


def audio_of_test_split(run: Run) -> list[Path]:
    """The test clips' audio files, from data/split.csv (same row order as data/x.npy)."""
    table = run.dir / "data" / "split.csv"
    if not table.is_file():
        raise HmtlError(f"{table}: missing; the test clips' audio cannot be found")
    with open(table, newline="", encoding="utf-8") as f:
        paths = [Path(r["path"]) for r in csv.DictReader(f)]
    return [paths[i] for i in rows_of_test_split(run)]


def load_wave(path: Path, run_features) -> np.ndarray:
    """One clip as training saw it: decoded, resampled, cropped or padded to the window."""
    return fix_length(decode(Path(path).read_bytes(), run_features.sample_rate),
                      run_features.num_samples, run_features.crop)


def waves_of_test_split(run: Run, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Test-split waveforms (N, samples) float32 decoded from the audio files, and labels."""
    paths = audio_of_test_split(run)[:limit]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise HmtlError(f"{missing[0]}: test clip not found ({len(missing)} missing)")
    rows = rows_of_test_split(run)[:limit]
    y = np.load(run.dir / "data" / "y.npy", allow_pickle=False)[rows]
    return np.stack([load_wave(p, run.cfg.features) for p in paths]), y


# ----------------------------------------------------------------------------- checks

def parity(run: Run, model, sess, waveform: bool, real_clips: int = 8) -> dict:
    """Max abs differences, torch vs ONNX, on random inputs of the training length and of
    another length and batch size (the dynamic axes), and on real test clips."""
    feats = run.cfg.features
    frontend = build_frontend(feats).eval() if waveform else None
    out: dict = {}
    shapes = {"random": example_input(feats, run.frames, waveform, batch=2, seed=1)}
    other = example_input(feats, run.frames, waveform, batch=3, seed=2)
    shapes["random_other_length"] = other[..., : other.shape[-1] * 2 // 3]
    for name, x in shapes.items():
        if not waveform:       # random features on the scale of real ones
            x = x * model.norm.std[:, None] + model.norm.mean[:, None]
        x = x.numpy()
        out[name] = max_abs_diff(torch_outputs(model, x, frontend), run_graph(sess, x, model.tasks))
    try:
        take = waves_of_test_split if waveform else features_of_test_split
        x = take(run, real_clips)[0]
    except HmtlError as e:
        out["real"], out["real_note"] = None, str(e)
    else:
        out["real"] = max_abs_diff(torch_outputs(model, x, frontend),
                                   run_graph(sess, x, model.tasks))
        out["real_clips"] = int(len(x))
    out["max"] = max(v for k, v in out.items() if isinstance(v, float))
    return out


def require_parity(result: dict, what: str, tolerance: float = TOLERANCE) -> None:
    if result["max"] > tolerance:
        worst = max((k for k, v in result.items() if isinstance(v, float) and k != "max"),
                    key=lambda k: result[k])
        raise HmtlError(f"{what}: ONNX output differs from torch by {result['max']:.2e} on "
                        f"{worst} inputs (tolerance {tolerance:.0e}); the export is not "
                        f"trustworthy")


def accuracy_on_test_split(run: Run, model, sessions: dict, waveform: bool) -> dict:
    """{'torch': {task: acc}, '<name>': {task: acc}, 'clips': N} on the test split."""
    x, y = waves_of_test_split(run) if waveform else features_of_test_split(run)
    frontend = build_frontend(run.cfg.features).eval() if waveform else None
    result = {"clips": int(len(x)), "torch": accuracy(torch_outputs(model, x, frontend)[0], y,
                                                      run.tasks)}
    for name, sess in sessions.items():
        result[name] = accuracy(run_graph(sess, x, model.tasks)[0], y, run.tasks)
    return result
