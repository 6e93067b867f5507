import json
import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own feature cache, never the user's."""
    monkeypatch.setenv("HMTL_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("HMTL_PROGRESS", "0")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """A tiny synthetic corpus shared by the tests that only read it."""
    from hmtl.testing import tiny_corpus

    return tiny_corpus(tmp_path_factory.mktemp("corpus"))


# ------------------------------------------ one exported run, shared by test_export and test_predict

@pytest.fixture(scope="session")
def export_run_dir(tmp_path_factory):
    """A finished tiny run (2 tasks, 1 seed): stage 1, pairs, tree, flat, a budget tree; what
    test_export.py and test_predict.py export and predict with, trained once per session."""
    from hmtl.pipeline import run_pipeline
    from hmtl.testing import tiny_config, tiny_corpus

    root = tmp_path_factory.mktemp("export-run")
    with pytest.MonkeyPatch.context() as mp:    # session scope: the cache fixture is not on
        mp.setenv("HMTL_CACHE", str(root / "cache"))
        mp.setenv("HMTL_PROGRESS", "0")
        cfg = tiny_config(tiny_corpus(root / "corpus", clips=64), train={"epochs": 1},
                          search={"budgets": [0.8]})
        run_pipeline(cfg, root / "run", verbose=False)
    return root / "run"


@pytest.fixture(scope="session")
def exported(export_run_dir, tmp_path_factory):
    """`hmtl export RUN --int8` with the default exporter (torch.export); the other exports of
    test_export.py use the legacy TorchScript exporter, ten times faster. Returns (out dir,
    export.json)."""
    from hmtl.cli.main import main as hmtl

    out = tmp_path_factory.mktemp("export-out")
    assert hmtl(["export", str(export_run_dir), "--int8", "--out", str(out)]) == 0
    return out, json.loads((out / "export.json").read_text())


@pytest.fixture(scope="session")
def clips(export_run_dir, tmp_path_factory):
    """A clip of exactly the model's window, a long one (several windows), a short one, and
    broken ones."""
    import numpy as np

    from hmtl.export.check import load_wave
    from hmtl.export.load import load_run
    from hmtl.testing import write_wav

    run = load_run(export_run_dir)
    feats = run.cfg.features
    src = sorted((export_run_dir.parent / "corpus" / "clips").glob("*.wav"))
    waves = [load_wave(p, feats) for p in src[:5]]
    folder = tmp_path_factory.mktemp("clips")
    files = {"window": src[0],
             "long": write_wav(folder / "long.wav", np.concatenate(waves), feats.sample_rate),
             "short": write_wav(folder / "short.wav", waves[1][: feats.num_samples // 3],
                                feats.sample_rate),
             "corrupt": folder / "corrupt.wav", "empty": folder / "empty.wav",
             "missing": folder / "missing.wav"}
    files["corrupt"].write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    files["empty"].write_bytes(b"")
    return files


def shared_corpus(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} not present (real corpora live in ../shared/data)")
    return path


os.environ.setdefault("OMP_NUM_THREADS", "2")
