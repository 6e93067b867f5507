"""The recipe registry and the manifest writer every recipe shares.

Conventions every recipe keeps, so that manifests of different corpora can be merged
(`hmtl prepare merge`) without relabelling: gender is `male`/`female`; emotions use RAVDESS'
words (angry, bored, calm, disgust, fearful, happy, neutral, sad, surprised); numeric speaker
ids carry a corpus prefix (`az07`, `emodb03`) so that two corpora's speaker 07 stay apart."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..errors import HmtlError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".aiff", ".aif", ".aifc", ".au", ".caf",
                    ".w64", ".mp3")


@dataclass
class Recipe:
    name: str
    rows: Callable[..., Iterable[dict]]      # one dict per clip: path (absolute) + label columns
    columns: list[str]                       # label columns, in order (path first, implicitly)
    about: str                               # where to download, licence, what the labels are
    split: str = ""                          # a published split it writes on request (--corpus-split)

    @property
    def layout(self) -> str:
        """The docstring's "Layout:" sentence: what the recipe looks for."""
        text = " ".join(self.about.split())
        start = text.find("Layout: ")
        if start < 0:
            return ""
        rest = text[start + len("Layout: "):]
        any_ext = "(any audio extension)"
        if any_ext in rest:
            return rest[:rest.index(any_ext) + len(any_ext)]
        return rest.split(": ")[0] if ": " in rest else rest.split(". ")[0]

    @property
    def title(self) -> str:
        """The corpus' name, as the docstring opens (up to its citation or first sentence end):
        the one line `hmtl prepare --help` shows."""
        head = " ".join(self.about.split())
        return head.split(" (")[0].split(". ")[0]


RECIPES: dict[str, Recipe] = {}


def register_recipe(name: str, columns: list[str], about: str, split: str = ""):
    """Register a recipe; one with `split` also takes `corpus_split_` (write that split)."""
    def deco(fn: Callable[..., Iterable[dict]]):
        RECIPES[name] = Recipe(name, fn, columns, about, split)
        return fn
    return deco


def audio_files(root: Path, pattern: str = "**/*") -> list[Path]:
    """Audio files under root (any extension soundfile reads), sorted for a stable manifest."""
    return sorted(p for p in root.glob(pattern) if p.suffix.lower() in AUDIO_EXTENSIONS)


def bad_name(path: Path, corpus: str, expected: str) -> HmtlError:
    """The one-line error for a file whose name does not follow the corpus' convention: a stray
    or renamed file would otherwise get wrong labels silently."""
    return HmtlError(f"{path}: not a {corpus} file name (expected {expected})")


def manifest_path(p: Path, base: Path) -> Path:
    """How a manifest in folder `base` names clip `p` (absolute): relative when the clip lies
    below the manifest's folder, so the pair can be moved together; absolute otherwise."""
    try:
        return Path(os.path.relpath(p, base)) if p.is_relative_to(base) else p
    except ValueError:
        return p


def write_manifest(recipe: str, src: str | Path, out: str | Path,
                   corpus_split: bool = False) -> tuple[Path, int]:
    """Write the manifest of corpus `recipe` found in `src` to `out`; paths are written relative
    to the manifest's folder when the corpus lies below it, absolute otherwise. With
    `corpus_split`, a recipe that knows the corpus' published split writes it as `split`."""
    if recipe not in RECIPES:
        raise HmtlError(f"unknown corpus '{recipe}'; known: {', '.join(sorted(RECIPES))}")
    src, out = Path(src).resolve(), Path(out)
    if not src.is_dir():
        raise HmtlError(f"{src}: corpus folder not found")
    r = RECIPES[recipe]
    if corpus_split and not r.split:
        raise HmtlError(f"--corpus-split: {recipe} has no published split to write")
    rows = list(r.rows(src, corpus_split_=True) if corpus_split else r.rows(src))
    if not rows:
        where = f" (expected {r.layout} below it)" if r.layout else ""
        raise HmtlError(f"{src}: no {recipe} audio files found{where}")
    columns = r.columns + (["split"] if corpus_split else [])
    out.parent.mkdir(parents=True, exist_ok=True)
    base = out.resolve().parent
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", *columns])
        for row in rows:
            shown = manifest_path(Path(row["path"]), base)
            w.writerow([str(shown), *(row.get(c, "") for c in columns)])
    return out, len(rows)
