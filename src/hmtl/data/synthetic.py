"""A built-in synthetic speech-like corpus with a PLANTED task structure, for the demo and tests.

Each clip is a voiced sound made by additive synthesis: a harmonic source with a gliding pitch,
shaped by formant resonances, with a syllable-like amplitude envelope, plus noise. Five tasks
read three independent cues:

    vowel    (6 classes)  formant pattern                              ┐ formant cue
    height   (5 classes)  close, close-mid, open-mid, near-open, open  ┘
    pitch    (6 classes)  mean f0, six levels                          ┐ f0 cue
    register (5 classes)  low … high voice (middle two levels merged)  ┘
    rhythm   (5 classes)  number of syllables                          — a cue of its own

Tasks that read the same cue can share every block; tasks that read different cues compete for
channels once a shared block is narrow. Every task has at least five classes on purpose: a
C-class linear head wants about C − 1 channels, so two tasks of different cues want at least
8 of the demo's 6-channel last block, while two tasks of one cue want no more than the finer
one's 5. With 3- and 4-class tasks two small tasks of different cues fitted in 6 channels and
the pair test rightly found them compatible (1 of 4 corpus seeds recovered the planted groups).
The demo uses the first four tasks: rhythm, a count, is read from one channel whatever its
number of classes (demo.py; BENCHMARKS.md, "Demo recovery").

Every latent variable is drawn independently, so the tasks of different groups are unrelated.
Deterministic for a seed, no downloads, about a thousand clips per second."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

TASKS = ("vowel", "height", "pitch", "register", "rhythm")
PLANTED = (("vowel", "height"), ("pitch", "register"), ("rhythm",))

# (F1, F2, F3) in Hz, after the classic Peterson & Barney averages
VOWELS = {"a": (730, 1090, 2440), "i": (270, 2290, 3010), "u": (300, 870, 2240),
          "e": (530, 1840, 2480), "o": (570, 840, 2410), "ae": (660, 1720, 2410)}
HEIGHT = {"i": "close", "u": "close", "e": "close-mid", "o": "open-mid", "ae": "near-open",
          "a": "open"}                                          # by F1
PITCH = {f"p{i + 1}": 100.0 * 1.3 ** i for i in range(6)}      # mean f0, ±3 % per clip
REGISTER = {"p1": "low", "p2": "low-middle", "p3": "middle", "p4": "middle", "p5": "high-middle",
            "p6": "high"}
RHYTHM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def synth_clip(rng: np.random.Generator, vowel: str, f0_mean: float, rhythm: str,
               sample_rate: int = 8000, duration: float = 1.0, snr_db: float = 15.0) -> np.ndarray:
    n = int(sample_rate * duration)
    t = np.arange(n) / sample_rate
    glide = rng.uniform(-0.1, 0.1)
    f0 = f0_mean * np.exp(glide * (t / duration - 0.5))                    # (n,)
    f0 *= 1 + 0.01 * np.sin(2 * np.pi * rng.uniform(4, 6) * t)              # vibrato
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    formants = np.array(VOWELS[vowel]) * rng.uniform(0.93, 1.07, size=3)
    bandwidths = np.array([80.0, 110.0, 160.0])
    wave = np.zeros(n)
    for k in range(1, int(sample_rate / 2 / f0.min())):
        freq = k * f0                                                       # (n,)
        gain = sum(1.0 / (1.0 + ((freq - fc) / bw) ** 2) for fc, bw in zip(formants, bandwidths))
        gain = gain * (freq < sample_rate / 2) / k ** 0.7                  # source tilt
        wave += gain * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    # syllables: raised-cosine bumps at jittered positions
    syllables = RHYTHM[rhythm]
    envelope = np.zeros(n)
    width = duration / (syllables + 1) * rng.uniform(0.7, 0.9)
    for s in range(syllables):
        centre = duration * (s + 1) / (syllables + 1) + rng.uniform(-0.04, 0.04)
        x = np.clip((t - centre) / width, -0.5, 0.5)
        envelope = np.maximum(envelope, np.cos(np.pi * x) ** 2 * (np.abs(t - centre) < width / 2))
    wave *= envelope
    wave /= np.sqrt(np.mean(wave ** 2)) + 1e-9
    noise = rng.standard_normal(n)
    noise = np.convolve(noise, np.ones(3) / 3, mode="same")                 # slightly coloured
    noise *= 10 ** (-snr_db / 20) / (np.sqrt(np.mean(noise ** 2)) + 1e-9)
    out = wave + noise
    return (0.3 * out / np.max(np.abs(out))).astype(np.float32)


def make_corpus(out_dir: str | Path, clips: int = 800, seed: int = 0, sample_rate: int = 8000,
                duration: float = 1.0, tasks: tuple[str, ...] = TASKS) -> Path:
    """Write `clips` WAV files and `manifest.csv` (path, one column per task, and `f0`: the mean
    pitch in Hz, a number for regression) to `out_dir`. Returns the manifest path. Latent
    variables are balanced and independent."""
    import soundfile as sf

    out_dir = Path(out_dir)
    (out_dir / "clips").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(clips):
        vowel = list(VOWELS)[i % len(VOWELS)]
        pitch = list(PITCH)[rng.integers(len(PITCH))]
        f0 = PITCH[pitch] * float(rng.uniform(0.97, 1.03))
        rhythm = list(RHYTHM)[rng.integers(len(RHYTHM))]
        wave = synth_clip(rng, vowel, f0, rhythm, sample_rate, duration,
                          snr_db=float(rng.uniform(5.0, 20.0)))
        name = f"clips/{i:05d}.wav"
        sf.write(out_dir / name, wave, sample_rate, subtype="PCM_16")
        labels = {"vowel": vowel, "height": HEIGHT[vowel], "pitch": pitch,
                  "register": REGISTER[pitch], "rhythm": rhythm}
        rows.append([name] + [labels[t] for t in tasks] + [f"{f0:.1f}"])
    manifest = out_dir / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", *tasks, "f0"])
        w.writerows(rows)
    return manifest
