"""An export-friendly front end: the STFT as a strided Conv1d with fixed windowed-DFT kernels.

torch.stft returns complex tensors, which the TorchScript ONNX exporter rejects and which the
torch.export-based one turns into the ONNX `STFT` operator, absent from many runtimes and
compilers. A convolution runs everywhere; `export_frontend` is the training front end with
this STFT inside (tested against it) and is used only for export."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import FeatureConfig
from ..data.frontend import build_frontend


def dft_kernels(n_fft: int, win_length: int) -> tuple[torch.Tensor, int]:
    """(2·F, 1, win_length) kernels, the F = n_fft//2 + 1 real parts then the imaginary parts
    of the Hann-windowed DFT, and the window's offset inside the n_fft frame. torch.stft
    centres a shorter window in the frame; the zeros around it are left out of the kernel."""
    offset = (n_fft - win_length) // 2
    n = torch.arange(win_length, dtype=torch.int64) + offset                # sample index in frame
    k = torch.arange(n_fft // 2 + 1, dtype=torch.int64)[:, None]
    phase = 2 * math.pi * ((k * n) % n_fft).double() / n_fft                # exact reduction mod N
    window = torch.hann_window(win_length, periodic=True, dtype=torch.float64)
    real = torch.cos(phase) * window
    imag = -torch.sin(phase) * window
    return torch.cat([real, imag]).float()[:, None, :], offset


class ConvSTFT(nn.Module):
    """Waveform (B, samples) -> power spectrogram (B, n_fft//2 + 1, frames), equal to
    |torch.stft(center=True, pad_mode='constant', hann window)|² up to float rounding."""

    def __init__(self, n_fft: int, hop_length: int, win_length: int):
        super().__init__()
        kernels, offset = dft_kernels(n_fft, win_length)
        self.bins = n_fft // 2 + 1
        self.hop = hop_length
        # centre padding of n_fft//2 each side, minus the window's zero margins
        self.pad_left = n_fft // 2 - offset
        self.pad_right = n_fft // 2 - (n_fft - win_length - offset)
        self.register_buffer("kernels", kernels, persistent=False)

    def spectrum(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(real, imaginary) parts, each (B, F, frames), as torch.stft's."""
        x = nn.functional.pad(wave[:, None, :], (self.pad_left, self.pad_right))  # (B, 1, S')
        spec = nn.functional.conv1d(x, self.kernels, stride=self.hop)             # (B, 2F, T)
        return spec[:, :self.bins], spec[:, self.bins:]

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        real, imag = self.spectrum(wave)
        return real * real + imag * imag


def export_frontend(cfg: FeatureConfig) -> nn.Module:
    """The export twin of hmtl.data.frontend.build_frontend(cfg): the same module with the
    STFT as a convolution."""
    return build_frontend(cfg, power=ConvSTFT(cfg.n_fft, cfg.hop_length, cfg.win_length))
