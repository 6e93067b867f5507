"""What every benchmark script records: the machine a figure came from, and its section of
BENCHMARKS.md, rewritten in place between `<!-- bench:NAME:begin -->` and `... :end -->` so a
rerun replaces its own figures and leaves the rest of the file alone."""

from __future__ import annotations

import platform
from pathlib import Path

MARK = "<!-- bench:{name}:{end} -->"


def machine() -> str:
    """CPU count and model, GPU if any, torch version: one line."""
    import os

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{os.cpu_count()} × {cpu}"
    if torch.cuda.is_available():
        text += f"; GPU {torch.cuda.get_device_name(0)}"
    return text + f"; torch {torch.__version__}"


def marked(name: str, text: str) -> str:
    """TEXT wrapped in NAME's markers."""
    return "\n".join([MARK.format(name=name, end="begin"), "", text.rstrip(), "",
                      MARK.format(name=name, end="end")])


def write_section(path: Path, name: str, text: str) -> None:
    """Replace NAME's marked section of PATH by TEXT (already marked), or append it."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    begin, end = MARK.format(name=name, end="begin"), MARK.format(name=name, end="end")
    if begin in old and end in old:
        new = old[:old.index(begin)] + text + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + text + "\n"
    path.write_text(new)


def linked_copy(src: Path, out: Path) -> None:
    """A copy of a run folder whose files are hard links (no space, every training reused),
    without its results or lock; a later run in it rewrites files by rename, never in place."""
    import os
    import shutil

    if not out.exists():
        shutil.copytree(src, out, copy_function=os.link,
                        ignore=shutil.ignore_patterns("results.*", "report.html", "*.lock"))
