import numpy as np
import pytest
import torch

from hmtl.config import FeatureConfig
from hmtl.data.frontend import LogMel, MFCC, mel_filterbank

librosa = pytest.importorskip("librosa")


def signal(rate: int, seconds: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(rate * seconds)) / rate
    x = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 1234 * t * (1 + t))
    return (x + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.mark.parametrize("rate, n_fft, win, hop, n_mels, fmax", [
    (16000, 512, 400, 160, 64, None), (8000, 256, 200, 80, 32, 3800.0)])
def test_logmel_matches_librosa(rate, n_fft, win, hop, n_mels, fmax):
    cfg = FeatureConfig(sample_rate=rate, n_fft=n_fft, win_length=win, hop_length=hop,
                        n_mels=n_mels, fmin=20.0, fmax=fmax)
    x = signal(rate)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(
        y=x, sr=rate, n_fft=n_fft, hop_length=hop, win_length=win, n_mels=n_mels, fmin=20.0,
        fmax=fmax, power=2.0), ref=1.0, top_db=80.0)
    ours = LogMel(cfg)(torch.from_numpy(x)[None])[0].numpy()
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-3


def test_mfcc_matches_librosa():
    cfg = FeatureConfig(kind="mfcc", sample_rate=16000, n_mels=40, n_mfcc=20, fmin=20.0)
    x = signal(16000)
    ref = librosa.feature.mfcc(y=x, sr=16000, n_mfcc=20, n_fft=512, hop_length=160,
                               win_length=400, n_mels=40, fmin=20.0)
    ours = MFCC(cfg)(torch.from_numpy(x)[None])[0].numpy()
    assert np.abs(ours - ref).max() < 1e-2 * np.abs(ref).max()


def test_filterbank_matches_librosa():
    ours = mel_filterbank(16000, 512, 64, 0.0, None).numpy()
    ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=64)
    assert np.allclose(ours, ref, atol=1e-6)


def test_frame_count_matches_config():
    cfg = FeatureConfig(sample_rate=8000, duration=0.5, n_fft=256, win_length=200, hop_length=80)
    out = LogMel(cfg)(torch.zeros(2, cfg.num_samples))
    assert out.shape == (2, cfg.n_mels, cfg.num_frames)
    assert torch.isfinite(out).all()  # silence gives the floor, not -inf
