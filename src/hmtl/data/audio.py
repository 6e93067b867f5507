"""Reading audio: any format soundfile reads, mixed down to mono, resampled with soxr,
and cropped or zero-padded to a fixed length."""

from __future__ import annotations

import io
import re
import struct

import numpy as np

from ..errors import HmtlError


class BadAudio(HmtlError):
    """A clip that cannot be used; the message says why (the caller adds the file and row)."""


def decode(data: bytes, target_rate: int) -> np.ndarray:
    """Decode audio bytes to mono float32 at `target_rate`. Raises BadAudio with the reason."""
    import soundfile as sf

    if len(data) == 0:
        raise BadAudio("empty file")
    missing = wav_truncation(data)
    if missing:
        raise BadAudio(f"truncated WAV ({missing} bytes of audio data missing)")
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        reason = re.sub(r"Error opening <[^>]*>: ", "", reason)[:120]   # no object addresses
        if "psf_fseek" in reason or "lost sync" in reason:
            reason = f"corrupt or truncated: {reason}"
        raise BadAudio(f"not readable as audio ({reason})") from None
    if samples.shape[0] == 0:
        raise BadAudio("no samples")
    mono = samples.mean(axis=1, dtype=np.float64).astype(np.float32)  # (n, ch) -> (n,)
    if not np.isfinite(mono).all():
        raise BadAudio("NaN or Inf samples")
    if rate != target_rate:
        import soxr

        mono = soxr.resample(mono, rate, target_rate, quality="HQ").astype(np.float32)
    return mono


def wav_truncation(data: bytes) -> int:
    """Bytes missing from a RIFF/WAVE file's data chunk (0 if complete or not a WAV).
    libsndfile silently reads what is there, so a cut-off WAV would pass unnoticed."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return 0
    offset = 12
    while offset + 8 <= len(data):
        chunk, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        if chunk == b"data":
            available = len(data) - offset - 8
            return max(0, size - available) if size != 0xFFFFFFFF else 0
        offset += 8 + size + (size & 1)
    return 0


def fix_length(wave: np.ndarray, length: int, policy: str = "center",
               rng: np.random.Generator | None = None) -> np.ndarray:
    """Crop a longer clip (centre, start, or a random window) or zero-pad a shorter one
    (symmetrically for centre/random, at the end for start) to exactly `length` samples."""
    n = wave.shape[-1]
    if n == length:
        return wave
    if n > length:
        if policy == "start":
            offset = 0
        elif policy == "center":
            offset = (n - length) // 2
        elif policy == "random":
            offset = int((rng or np.random.default_rng()).integers(0, n - length + 1))
        else:
            raise ValueError(f"unknown crop policy {policy!r}")
        return wave[..., offset:offset + length]
    missing = length - n
    before = 0 if policy == "start" else missing // 2
    pad = [(0, 0)] * (wave.ndim - 1) + [(before, missing - before)]
    return np.pad(wave, pad)
