"""Log-mel and MFCC front ends in plain torch (no torchaudio), as nn.Modules so that they can be
put in front of a model and exported with it. The mel filterbank follows librosa's defaults
(Slaney mel scale and area normalisation), which the tests use as the reference."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import FeatureConfig


def hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    lin = f / f_sp
    log = min_log_mel + torch.log(torch.clamp(f, min=min_log_hz) / min_log_hz) / logstep
    return torch.where(f >= min_log_hz, log, lin)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    lin = f_sp * m
    log = min_log_hz * torch.exp(logstep * (m - min_log_mel))
    return torch.where(m >= min_log_mel, log, lin)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float,
                   fmax: float | None) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters, Slaney-normalised to constant energy."""
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    mel_pts = torch.linspace(hz_to_mel(torch.tensor(fmin, dtype=torch.float64)).item(),
                             hz_to_mel(torch.tensor(fmax, dtype=torch.float64)).item(),
                             n_mels + 2, dtype=torch.float64)
    hz_pts = mel_to_hz(mel_pts)
    fdiff = hz_pts[1:] - hz_pts[:-1]                                  # (n_mels + 1,)
    ramps = hz_pts[:, None] - fft_freqs[None, :]                      # (n_mels + 2, n_freqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    enorm = 2.0 / (hz_pts[2:n_mels + 2] - hz_pts[:n_mels])
    return (weights * enorm[:, None]).float()


def dct_matrix(n_mfcc: int, n_mels: int) -> torch.Tensor:
    """(n_mfcc, n_mels) orthonormal DCT-II, as scipy's dct(type=2, norm='ortho')."""
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64)[:, None]
    basis = torch.cos(math.pi / n_mels * (n + 0.5) * k) * math.sqrt(2.0 / n_mels)
    basis[0] /= math.sqrt(2.0)
    return basis.float()


class StftPower(nn.Module):
    """Waveform (B, samples) -> power spectrogram (B, n_fft//2 + 1, frames) with torch.stft
    (centred, zero-padded, periodic Hann window)."""

    def __init__(self, cfg: FeatureConfig):
        super().__init__()
        self.n_fft, self.hop, self.win = cfg.n_fft, cfg.hop_length, cfg.win_length
        self.register_buffer("window", torch.hann_window(cfg.win_length, periodic=True),
                             persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave, self.n_fft, hop_length=self.hop, win_length=self.win,
                          window=self.window, center=True, pad_mode="constant",
                          return_complex=True)                        # (B, F, T)
        return spec.real ** 2 + spec.imag ** 2


class LogMel(nn.Module):
    """Waveform (B, samples) -> log-mel (B, n_mels, frames), in dB with an 80 dB floor per clip
    below its maximum (librosa's power_to_db(ref=1, top_db=80)). The power spectrogram comes
    from torch.stft, or from another module computing the same (export uses a convolution)."""

    def __init__(self, cfg: FeatureConfig, top_db: float = 80.0, power: nn.Module | None = None):
        super().__init__()
        self.power = power if power is not None else StftPower(cfg)
        self.top_db = top_db
        self.register_buffer("fbank", mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels,
                                                     cfg.fmin, cfg.fmax), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        mel = torch.matmul(self.fbank, self.power(wave))              # (B, n_mels, T)
        db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        floor = db.amax(dim=(-2, -1), keepdim=True) - self.top_db
        return torch.maximum(db, floor)


class MFCC(nn.Module):
    """Waveform (B, samples) -> MFCC (B, n_mfcc, frames): orthonormal DCT of the dB log-mel."""

    def __init__(self, cfg: FeatureConfig, power: nn.Module | None = None):
        super().__init__()
        self.logmel = LogMel(cfg, power=power)
        self.register_buffer("dct", dct_matrix(cfg.n_mfcc, cfg.n_mels), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.matmul(self.dct, self.logmel(wave))              # (B, n_mfcc, T)


def build_frontend(cfg: FeatureConfig, power: nn.Module | None = None) -> nn.Module:
    return MFCC(cfg, power) if cfg.kind == "mfcc" else LogMel(cfg, power=power)
