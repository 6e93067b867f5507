"""Features, cache and the run's prepared dataset."""

import numpy as np
import pytest
import torch

import hmtl.data.prepare as prepare_module
from hmtl.data.cache import FeatureCache
from hmtl.data.dataset import load_dataset
from hmtl.data.prepare import prepare_dataset
from hmtl.errors import HmtlError
from hmtl.testing import tiny_config


def test_prepare_builds_arrays_and_split(corpus, tmp_path):
    cfg = tiny_config(corpus)
    data = prepare_dataset(cfg, tmp_path / "data")
    n = len(corpus.read_text().splitlines()) - 1
    assert data.x.shape == (n, 24, cfg.features.stored_frames) and data.x.dtype.is_floating_point
    assert data.x.dtype == np.float16 or str(data.x.dtype) == "torch.float16"
    assert data.y.shape == (n, 2) and int(data.y.min()) >= 0
    counts = np.bincount(data.split.numpy(), minlength=3)
    assert counts[0] > counts[1] > 0 and counts[2] > 0
    assert (tmp_path / "data" / "split.csv").exists()
    # the stored split is reused as is
    again = load_dataset(tmp_path / "data")
    assert (again.split == data.split).all() and again.key == data.key


def test_second_run_reads_no_audio(corpus, tmp_path, monkeypatch):
    cfg = tiny_config(corpus)
    first = prepare_dataset(cfg, tmp_path / "a")
    calls = []
    original = prepare_module.decode
    monkeypatch.setattr(prepare_module, "decode", lambda *a: calls.append(1) or original(*a))
    read = []
    original_read = type(corpus).read_bytes
    monkeypatch.setattr(type(corpus), "read_bytes",
                        lambda self: read.append(self) or original_read(self))
    second = prepare_dataset(cfg, tmp_path / "b")   # a new run folder, same cache
    assert calls == []
    assert [p for p in read if p.suffix == ".wav"] == []
    assert (first.x == second.x).all() and first.key == second.key


def test_cache_is_keyed_by_feature_config_and_content(corpus, tmp_path):
    a = FeatureCache(tiny_config(corpus).features)
    b = FeatureCache(tiny_config(corpus, overrides=["features.n_mels=16"]).features)
    assert a.dir != b.dir
    prepare_dataset(tiny_config(corpus), tmp_path / "a")
    entries = list(a.dir.rglob("*.npy"))
    assert entries and all(np.load(e).dtype == np.float16 for e in entries)
    # a damaged entry is recomputed, not trusted
    entries[0].write_bytes(b"garbage")
    assert a.load(entries[0].stem) is None
    prepare_dataset(tiny_config(corpus), tmp_path / "b")
    assert a.load(entries[0].stem) is not None


def test_run_folder_refuses_another_dataset(corpus, tmp_path):
    prepare_dataset(tiny_config(corpus), tmp_path / "data")
    with pytest.raises(HmtlError, match="use a new --out folder"):
        prepare_dataset(tiny_config(corpus, overrides=["features.n_mels=16"]), tmp_path / "data")


def _respelled(corpus, out, change=None):
    """The corpus manifest with absolute paths and an extra unused column; `change` edits rows."""
    lines = corpus.read_text().splitlines()
    rows = [lines[0] + ",note"]
    for i, line in enumerate(lines[1:]):
        path, rest = line.split(",", 1)
        row = f"{(corpus.parent / path).resolve()},{rest},n{i}"
        rows.append(change(i, row) if change else row)
    out.write_text("\n".join(rows) + "\n")
    return out


def test_run_folder_keeps_its_dataset_when_the_manifest_is_respelled(corpus, tmp_path):
    """An unused column or another spelling of the paths gives the same clips, labels and
    split: the folder (and every training keyed on its dataset) is kept. A changed label is not."""
    first = prepare_dataset(tiny_config(corpus), tmp_path / "run" / "data")
    same = prepare_dataset(tiny_config(_respelled(corpus, tmp_path / "a.csv")), tmp_path / "run" / "data")
    assert same.key == first.key and (same.y == first.y).all()
    assert not (tmp_path / "run" / "data.check").exists()
    # and the next run with the respelled manifest does not even rebuild
    assert prepare_dataset(tiny_config(tmp_path / "a.csv"), tmp_path / "run" / "data").key == first.key

    relabel = lambda i, row: row.replace(",a,", ",i,", 1) if i == 0 and ",a," in row else \
        row.replace(",i,", ",a,", 1) if i == 0 else row   # noqa: E731
    other = _respelled(corpus, tmp_path / "b.csv", relabel)
    with pytest.raises(HmtlError, match=r"y\.npy.*differ.*use a new --out folder"):
        prepare_dataset(tiny_config(other), tmp_path / "run" / "data")
    assert load_dataset(tmp_path / "run" / "data").key == first.key   # nothing lost


def test_fingerprint_and_validation_halves_do_not_depend_on_where_the_files_lie(corpus, tmp_path):
    """The fingerprint seeds which validation clips pick the epochs (and the random trees): the
    same corpus copied elsewhere, its manifest spelled with absolute paths, prepared into another
    run folder, must give the same key and halves, or a run's tree depends on its location."""
    import shutil

    moved = tmp_path / "elsewhere" / "corpus"
    shutil.copytree(corpus.parent, moved)
    here = prepare_dataset(tiny_config(corpus), tmp_path / "a" / "data")
    there = prepare_dataset(tiny_config(_respelled(moved / corpus.name, tmp_path / "abs.csv")),
                            tmp_path / "b" / "deeper" / "data")
    assert there.key == here.key
    for mine, theirs in zip(here.val_halves(), there.val_halves()):
        assert torch.equal(mine, theirs)
    # and the content still counts: another feature config is another dataset
    other = prepare_dataset(tiny_config(corpus, overrides=["features.n_mels=16"]), tmp_path / "c")
    assert other.key != here.key


def test_crop_jitter_stores_extra_frames(corpus, tmp_path):
    cfg = tiny_config(corpus, overrides=["features.crop_jitter=0.1"])
    data = prepare_dataset(cfg, tmp_path / "data")
    assert data.x.shape[-1] == cfg.features.stored_frames > data.frames == cfg.features.num_frames


def test_bad_audio_error_and_skip(corpus, tmp_path):
    manifest = tmp_path / "m.csv"
    lines = corpus.read_text().splitlines()
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    root = corpus.parent
    rows = [lines[0]] + [f"{root / line.split(',', 1)[0]},{line.split(',', 1)[1]}" for line in lines[1:]]
    rows.append(f"{bad},{lines[1].split(',', 1)[1]}")
    rows.append(f"{tmp_path / 'missing.wav'},{lines[2].split(',', 1)[1]}")
    manifest.write_text("\n".join(rows) + "\n")
    with pytest.raises(HmtlError) as e:
        prepare_dataset(tiny_config(manifest), tmp_path / "run1" / "data")
    assert "broken.wav" in str(e.value) and f"row {len(rows) - 1}" in str(e.value)
    data = prepare_dataset(tiny_config(manifest, overrides=["data.on_bad_audio=skip"]),
                           tmp_path / "run2" / "data")
    assert len(data.y) == len(lines) - 1
    skipped = (tmp_path / "run2" / "data" / "skipped.csv").read_text()
    assert "broken.wav" in skipped and "file not found" in skipped
