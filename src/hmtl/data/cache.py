"""Feature cache on disk, keyed by a hash of the file's content and the feature config.

A second run reads no audio at all: a small index maps (path, size, mtime) to the content hash,
and the features of that content are one float16 .npy file. Entries are written atomically; an
unreadable entry is recomputed. The cache lives under $HMTL_CACHE, else $XDG_CACHE_HOME/hmtl,
else ~/.cache/hmtl, never beside the corpora (which may be read-only)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from pathlib import Path

import numpy as np

from ..config import FeatureConfig
from ..utils.io import atomic_write_bytes, stable_hash


def cache_root() -> Path:
    if os.environ.get("HMTL_CACHE"):
        return Path(os.environ["HMTL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hmtl"


class ContentIndex:
    """(path, size, mtime_ns) -> content hash, as an append-only tab-separated file."""

    def __init__(self, root: Path):
        self.file = root / "content-index.tsv"
        self.map: dict[tuple[str, int, int], str] = {}
        if self.file.exists():
            for line in self.file.read_text(errors="replace").splitlines():
                parts = line.split("\t")
                if len(parts) == 4 and len(parts[3]) == 40:  # a torn last line is ignored
                    try:
                        self.map[(parts[0], int(parts[1]), int(parts[2]))] = parts[3]
                    except ValueError:
                        continue

    def lookup(self, path: Path, st: os.stat_result) -> str | None:
        return self.map.get((str(path), st.st_size, st.st_mtime_ns))

    def add(self, path: Path, st: os.stat_result, digest: str) -> None:
        key = (str(path), st.st_size, st.st_mtime_ns)
        if self.map.get(key) == digest or "\t" in key[0] or "\n" in key[0]:
            return
        self.map[key] = digest
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.file, "a", encoding="utf-8") as f:  # one short line: an atomic append
            f.write(f"{key[0]}\t{key[1]}\t{key[2]}\t{digest}\n")


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


class FeatureCache:
    def __init__(self, cfg: FeatureConfig, root: Path | None = None):
        self.root = Path(root) if root is not None else cache_root()
        fields = dataclasses.asdict(cfg)
        fields["stored_samples"] = cfg.stored_samples
        self.shape = (cfg.channels, cfg.stored_frames)
        self.dir = self.root / "features" / stable_hash({"v": 1, **fields})
        self.index = ContentIndex(self.root)

    def _entry(self, digest: str) -> Path:
        return self.dir / digest[:2] / f"{digest}.npy"

    def load(self, digest: str) -> np.ndarray | None:
        path = self._entry(digest)
        if not path.exists():
            return None
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return None  # a damaged entry is recomputed
        return arr if arr.shape == self.shape and arr.dtype == np.float16 else None

    def store(self, digest: str, features: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, features.astype(np.float16), allow_pickle=False)
        atomic_write_bytes(self._entry(digest), buf.getvalue(), fsync=False)
