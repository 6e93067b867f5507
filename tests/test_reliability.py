"""Bad input gives one clean line and leaves nothing behind; runs are locked; nothing is lost."""

import csv
import io
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hmtl.config import DataConfig, TaskConfig
from hmtl.data.audio import BadAudio, decode
from hmtl.data.dataset import load_dataset
from hmtl.data.prepare import prepare_dataset
from hmtl.data.manifest import read_manifest
from hmtl.data.splits import make_split
from hmtl.errors import HmtlError
from hmtl.pipeline import run_pipeline
from hmtl.testing import tiny_config, write_wav
from hmtl.utils.lock import RunLock

RATE = 8000


def tone(seconds: float, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def wav_bytes(x: np.ndarray, rate: int = RATE, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


# Each kind of bad (or merely unusual) audio, and what a user sees: the reason, or None if the
# clip is usable. The closing note of the reliability issue reproduces this table.
def bad_inputs(tmp: Path) -> dict[str, tuple[Path, str | None]]:
    def put(name: str, data: bytes) -> Path:
        p = tmp / name
        p.write_bytes(data)
        return p

    good = wav_bytes(tone(0.5))
    flac = wav_bytes(tone(0.5), fmt="FLAC")
    nan = tone(0.5)
    nan[100] = np.nan
    return {
        "missing file": (tmp / "nowhere.wav", "file not found"),
        "zero-length file": (put("empty.wav", b""), "empty file"),
        "truncated WAV": (put("cut.wav", good[: len(good) // 2]), "truncated WAV"),
        "truncated FLAC": (put("cut.flac", flac[: len(flac) // 2]), "not readable as audio"),
        "text file named .wav": (put("text.wav", b"hello, this is not audio\n" * 20), "not readable as audio"),
        "NaN samples": (put("nan.wav", wav_bytes(nan, subtype="FLOAT")), "NaN or Inf samples"),
        "a directory named .wav": (tmp / "dir.wav", "is a directory"),
        "silence": (put("silence.wav", wav_bytes(np.zeros(4000, np.float32))), None),
        "stereo": (put("stereo.wav", wav_bytes(tone(0.5, channels=2))), None),
        "6 channels": (put("six.wav", wav_bytes(tone(0.5, channels=6))), None),
        "44.1 kHz": (put("hi.wav", wav_bytes(tone(0.5, 44100), 44100)), None),
        "11.025 kHz": (put("odd.wav", wav_bytes(tone(0.5, 11025), 11025)), None),
        "10 ms (far shorter)": (put("short.wav", wav_bytes(tone(0.01))), None),
        "60 s (far longer)": (put("long.wav", wav_bytes(tone(60.0))), None),
    }


def manifest_for(tmp: Path, extra: list[Path], base_rows: int = 60) -> Path:
    """A manifest of `base_rows` good clips (two balanced tasks) plus the given files."""
    rows = []
    for i in range(base_rows):
        p = write_wav(tmp / "good" / f"{i}.wav", tone(0.5) * (1 + i % 3), RATE)
        rows.append([str(p), "abc"[i % 3], "xy"[i % 2]])
    for i, p in enumerate(extra):
        rows.append([str(p), "abc"[i % 3], "xy"[i % 2]])
    m = tmp / "manifest.csv"
    with open(m, "w", newline="") as f:
        csv.writer(f).writerows([["path", "a", "b"]] + rows)
    return m


def small_config(manifest: Path, **data):
    return tiny_config(manifest, tasks=("a", "b"), data={"split_seed": 1, **data})


def test_every_bad_input_gives_a_clean_reason(tmp_path):
    cases = bad_inputs(tmp_path)
    (tmp_path / "dir.wav").mkdir()
    from hmtl.data.cache import FeatureCache
    from hmtl.data.prepare import extract_features
    from hmtl.data.manifest import Manifest

    paths = [p for p, _ in cases.values()]
    m = Manifest(tmp_path / "m.csv", paths, list(range(2, 2 + len(paths))),
                 {"a": ["x"] * len(paths)}, classes={"a": ["x"]})
    cfg = tiny_config(tmp_path / "m.csv", tasks=("a",), data={"on_bad_audio": "skip"})
    cache = FeatureCache(cfg.features)
    out = np.zeros((len(paths),) + cache.shape, dtype=np.float16)
    _, failed = extract_features(m, cfg, cache, out)
    for i, (name, (_, reason)) in enumerate(cases.items()):
        if reason is None:
            assert i not in failed, (name, failed.get(i))
            assert np.isfinite(out[i].astype(np.float32)).all(), name
        else:
            assert i in failed and reason in failed[i], (name, failed.get(i))


def test_bad_clip_stops_with_one_line_and_leaves_no_run_folder(tmp_path):
    cases = bad_inputs(tmp_path)
    manifest = manifest_for(tmp_path, [cases["truncated WAV"][0]])
    out = tmp_path / "run"
    with pytest.raises(HmtlError) as e:
        run_pipeline(small_config(manifest), out, verbose=False)
    assert "cut.wav" in str(e.value) and "row 62" in str(e.value) and "\n" not in str(e.value)
    assert not out.exists()
    # with skip, the clip is left out, counted and listed, and the run goes on
    r = run_pipeline(small_config(manifest, on_bad_audio="skip"), out, verbose=False, until="stage1")
    assert "independent" in r["methods"]
    assert "cut.wav" in (out / "data" / "skipped.csv").read_text()


@pytest.mark.parametrize("rows, message", [
    ("path,a,b\n" + "".join(f"{i}.wav,x,y\n" for i in range(30)), "task 'a' (column 'a') has 1 class"),
    ("path,a,b\n" + "".join(f"{i}.wav,{'xy'[i % 2]},{'uv'[i % 2]}\n" for i in range(2)), "split is empty"),
    ("path,a\n" + "".join(f"{i}.wav,{'xy'[i % 2]}\n" for i in range(30)), "needs column 'b'"),
])
def test_bad_manifest_leaves_no_run_folder(tmp_path, rows, message):
    manifest = tmp_path / "m.csv"
    manifest.write_text(rows)
    with pytest.raises(HmtlError, match=re.escape(message)):
        run_pipeline(small_config(manifest), tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()


def test_a_run_folder_is_locked_while_in_use(tmp_path):
    with RunLock(tmp_path / "r"):
        with pytest.raises(HmtlError, match="in use by another hmtl process"):
            with RunLock(tmp_path / "r"):
                pass
    with RunLock(tmp_path / "r"):      # released: free again
        pass


def test_a_killed_holder_does_not_keep_the_lock(tmp_path):
    code = ("import sys, time; from hmtl.utils.lock import RunLock; "
            f"l = RunLock({str(tmp_path / 'r')!r}).__enter__(); print('locked', flush=True); time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    with pytest.raises(HmtlError, match=f"pid {p.pid}"):
        RunLock(tmp_path / "r").__enter__()
    p.send_signal(signal.SIGKILL)
    p.wait()
    with RunLock(tmp_path / "r"):
        pass


def test_a_holder_on_another_host_is_refused_without_a_shared_flock(tmp_path):
    """A cluster filesystem may not carry flocks between hosts: the lock file's host, pid and
    heartbeat must keep a second host out while the holder lives, and let it in once stale."""
    import socket

    folder = tmp_path / "r"
    code = ("import time; from hmtl.utils.lock import RunLock; "
            f"l = RunLock({str(folder)!r}, heartbeat=0.2).__enter__(); print('locked', flush=True); "
            "time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    other = {"host": "node-b", "use_flock": False, "stale_after": 1.5}   # another host's view
    try:
        assert p.stdout.readline().strip() == "locked"
        with pytest.raises(HmtlError, match=f"pid {p.pid} on {socket.gethostname()}"):
            RunLock(folder, **other).__enter__()
        time.sleep(2.0)                  # longer than stale_after: the heartbeat keeps it fresh
        with pytest.raises(HmtlError, match=f"pid {p.pid}"):
            RunLock(folder, **other).__enter__()
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    time.sleep(2.0)                      # no heartbeat since the kill: stale
    with RunLock(folder, **other):
        assert "node-b" in (folder / ".lock").read_text()
    assert (folder / ".lock").read_text() == ""                  # released cleanly: free
    with RunLock(folder):                                        # and this host takes it at once
        pass


def test_features_larger_than_the_threshold_are_memory_mapped(corpus, tmp_path, monkeypatch):
    import hmtl.data.dataset as dataset_module

    cfg = tiny_config(corpus)
    prepare_dataset(cfg, tmp_path / "data")
    in_ram = load_dataset(tmp_path / "data")
    modes = []
    real_load = np.load
    monkeypatch.setattr(dataset_module.np, "load",
                        lambda f, *a, **k: modes.append((Path(f).name, k.get("mmap_mode")))
                        or real_load(f, *a, **k))
    monkeypatch.setenv("HMTL_MMAP_BYTES", "1")
    mapped = load_dataset(tmp_path / "data")
    assert ("x.npy", "c") in modes                     # features stay on disk, copy-on-write
    assert (mapped.x == in_ram.x).all()
    from hmtl.models import TreeSpec
    from hmtl.training.job import TrainJob
    from hmtl.training.plain import train_job

    record, _ = train_job(TrainJob(TreeSpec.single("vowel", 2), 0, cfg.model, cfg.train,
                                   (("vowel", 1.0),), mapped.key), mapped)
    assert 0 <= record.val["vowel"]["accuracy"] <= 1   # training reads from the mapping


def test_a_100k_row_manifest_validates_and_splits(tmp_path):
    n = 100_000
    manifest = tmp_path / "big.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "a", "b", "group"])
        for i in range(n):
            w.writerow([f"clips/{i}.wav", f"c{i % 7}", "" if i % 5 == 0 else f"d{i % 3}", f"s{i % 500}"])
    tasks = [TaskConfig("a"), TaskConfig("b")]
    m = read_manifest(manifest, tasks)
    assert len(m) == n and m.classes["a"][0] == "c0"
    assert (m.encoded("b") == -1).sum() == n // 5
    s = make_split(m, DataConfig(tasks=tasks))
    assert abs((s == 0).mean() - 0.7) < 0.01
    g = make_split(m, DataConfig(tasks=tasks, split_by="group"))
    groups = {}
    for grp, k in zip(m.group, g):
        groups.setdefault(grp, set()).add(int(k))
    assert all(len(v) == 1 for v in groups.values())


# ------------------------------------------------------------------ garbage in, clean errors out

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2048))
def test_audio_reader_garbage_gives_only_bad_audio(data):
    try:
        wave = decode(data, RATE)
    except BadAudio as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert wave.dtype == np.float32 and np.isfinite(wave).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=4096).filter(lambda b: b[:4] != b"fLaC"), st.integers(8, 200))
def test_audio_reader_mangled_real_files(tmp_path, noise, cut):
    good = wav_bytes(tone(0.2))
    for data in (good[:cut] + noise, good[:44] + noise, noise + good):
        try:
            decode(data, RATE)
        except BadAudio as e:
            assert "\n" not in str(e)


csv_text = st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12),
                             min_size=0, max_size=5), max_size=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(csv_text, st.booleans(), st.binary(max_size=64))
def test_manifest_parser_garbage_gives_only_clean_errors(tmp_path, rows, header, junk):
    path = tmp_path / "m.csv"
    buf = io.StringIO()
    w = csv.writer(buf)
    if header:
        w.writerow(["path", "a"])
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8", "surrogatepass") + junk)
    try:
        m = read_manifest(path, [TaskConfig("a")])
    except HmtlError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)
    else:
        assert len(m) > 0 and len(m.classes["a"]) >= 2
