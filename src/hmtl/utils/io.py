"""Small file helpers. Every file of a run folder is written atomically (temp file + rename),
so a crash leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def user_path(text: str | os.PathLike) -> Path:
    """A path as a user wrote it: '~' and '~user' expand as in a shell, and '~nosuchuser' stays
    a literal name (pathlib's expanduser raises RuntimeError for it)."""
    return Path(os.path.expanduser(os.fspath(text)))


def atomic_write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = True) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str, fsync: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def atomic_write_json(path: str | os.PathLike, obj: Any, fsync: bool = True) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", fsync=fsync)


def read_json(path: str | os.PathLike) -> Any:
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hash of a JSON-able object that does not depend on dict order or Python's hash seed."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
