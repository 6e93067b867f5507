"""Helpers for tests, shipped with the package (as lhotse does): tiny configs and corpora."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import RunConfig, load_config
from ..data.synthetic import make_corpus

# A configuration small enough for a training to take about a second on one CPU core.
TINY = {
    "features": {"sample_rate": 8000, "duration": 0.5, "n_fft": 256, "win_length": 200,
                 "hop_length": 80, "n_mels": 24, "fmin": 50.0},
    "model": {"backbone": "tc_cnn", "blocks": 2, "widths": [16, 8], "kernel_size": 5,
              "dropout": 0.0},
    "train": {"epochs": 6, "batch_size": 32, "lr": 0.005, "patience": 6, "device": "cpu"},
    "search": {"seeds": 1, "tolerance": 0.02},
}


def tiny_config(manifest: Path, tasks=("vowel", "pitch"), overrides: list[str] | None = None,
                **sections) -> RunConfig:
    raw = {k: dict(v) for k, v in TINY.items()}
    raw["data"] = {"manifest": str(manifest), "tasks": list(tasks)}
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return load_config(raw=raw, overrides=overrides)


def tiny_corpus(root: Path, clips: int = 160, seed: int = 0) -> Path:
    """A small synthetic corpus (0.5 s clips at 8 kHz); returns its manifest."""
    manifest = Path(root) / "manifest.csv"
    if not manifest.exists():
        make_corpus(root, clips=clips, seed=seed, duration=0.5)
    return manifest


def write_wav(path: Path, samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, rate, subtype=subtype)
    return path
