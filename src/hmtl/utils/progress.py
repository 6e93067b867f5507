"""Progress bars and status lines. Bars show on a terminal only (quiet in CI and pipes);
status lines always go to stderr so that stdout keeps only results."""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

T = TypeVar("T")


def bars_enabled() -> bool:
    if os.environ.get("HMTL_PROGRESS") == "1":
        return True
    if os.environ.get("HMTL_PROGRESS") == "0" or os.environ.get("CI"):
        return False
    return sys.stderr.isatty()


def epoch_bars_wanted() -> bool:
    """A bar over each training's epochs: `hmtl run --verbose` (inherited by worker processes)."""
    return os.environ.get("HMTL_EPOCH_BARS") == "1" and bars_enabled()


def progress(iterable: Iterable[T], total: int | None = None, desc: str = "",
             unit: str = "it") -> Iterable[T]:
    if not bars_enabled():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


def bar(total: int, desc: str = "", unit: str = "it"):
    """A manual progress bar (update(n), close()); a no-op object when bars are off."""
    if not bars_enabled():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


def say(message: str) -> None:
    """One status line on stderr. With a bar open, tqdm.write keeps the bar intact."""
    if bars_enabled():
        from tqdm import tqdm

        tqdm.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr, flush=True)
