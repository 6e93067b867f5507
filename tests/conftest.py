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


def shared_corpus(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} not present (real corpora live in ../shared/data)")
    return path


os.environ.setdefault("OMP_NUM_THREADS", "2")
