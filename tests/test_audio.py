import numpy as np
import pytest

from hmtl.data.audio import BadAudio, decode, fix_length
from hmtl.testing import write_wav


def test_decode_mono_mixdown_and_resample(tmp_path):
    rate = 22050
    t = np.arange(rate) / rate
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([left, -left * 0 + 0.2], axis=1).astype(np.float32)
    path = write_wav(tmp_path / "s.flac", stereo, rate, subtype="PCM_24")
    wave = decode(path.read_bytes(), 16000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - 16000) <= 1
    # the mix of a 440 Hz tone and a constant: the tone survives resampling at the right frequency
    spectrum = np.abs(np.fft.rfft(wave - wave.mean()))
    assert abs(np.argmax(spectrum) * 16000 / len(wave) - 440) < 2
    assert abs(wave.mean() - 0.1) < 0.01


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"this is not audio at all" * 10, "not readable as audio"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "not readable as audio"),
])
def test_bad_bytes_raise_bad_audio(data, reason):
    with pytest.raises(BadAudio, match=reason):
        decode(data, 16000)


def test_nan_samples_are_rejected(tmp_path):
    x = np.zeros(800, dtype=np.float32)
    x[10] = np.nan
    path = write_wav(tmp_path / "n.wav", x, 8000, subtype="FLOAT")
    with pytest.raises(BadAudio, match="NaN"):
        decode(path.read_bytes(), 8000)


def test_fix_length_policies():
    x = np.arange(10, dtype=np.float32)
    assert fix_length(x, 4, "start").tolist() == [0, 1, 2, 3]
    assert fix_length(x, 4, "center").tolist() == [3, 4, 5, 6]
    rng = np.random.default_rng(0)
    crops = {tuple(fix_length(x, 4, "random", rng)) for _ in range(50)}
    assert len(crops) > 3 and all(len(c) == 4 for c in crops)
    assert fix_length(x[:2], 4, "center").tolist() == [0, 0, 1, 0]
    assert fix_length(x[:2], 4, "start").tolist() == [0, 1, 0, 0]
    assert fix_length(x, 10, "center") is x
