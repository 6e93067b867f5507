"""A folder per class, ROOT/CLASS/*.wav, optionally per split.

Layout: ROOT/CLASS/FILE (any audio extension, at any depth below CLASS): the class folder's
name is the label, in the column --column names (default `label`). When every folder of ROOT
that holds audio is a split name (train; validation, valid, val or dev; test; as Hugging Face
`datasets` names splits), the layout is ROOT/SPLIT/CLASS/FILE and the split folder becomes the
`split` column (validation -> val). Names starting with '.' are skipped. Audio lying beside the
class folders, in no class, is an error: its label would be unknown."""

from __future__ import annotations

from pathlib import Path

from ..errors import HmtlError
from .base import audio_files
from .importers import Option, Row, Table, register_importer, split_name

EXPECTED = "expected ROOT/CLASS/*.wav or ROOT/SPLIT/CLASS/*.wav (any audio extension)"


def _audio(folder: Path, root: Path) -> list[Path]:
    """Audio files below `folder`, none under a hidden name."""
    return [p for p in audio_files(folder)
            if not any(part.startswith(".") for part in p.relative_to(root).parts)]


def _classes(folder: Path, root: Path) -> list[tuple[Path, list[Path]]]:
    """(class folder, its audio) for each subfolder of `folder` that holds audio; audio lying
    directly in `folder` has no class and is an error."""
    stray = [p for p in audio_files(folder, "*") if not p.name.startswith(".")]
    if stray:
        raise HmtlError(f"{stray[0]}: not in a class folder ({len(stray)} such file(s) in "
                        f"{folder}; {EXPECTED})")
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = _audio(sub, root)
        if files:
            found.append((sub, files))
    return found


@register_importer("folder", about=__doc__, options=(
    Option("--column", "name of the label column (default: label)", default="label",
           metavar="NAME"),))
def folder_rows(root: Path, column: str = "label") -> Table:
    if not root.is_dir():
        raise HmtlError(f"{root}: not a folder; {EXPECTED}")
    column = column.strip()
    if column in ("", "path", "split", "group"):
        raise HmtlError(f"--column '{column}': the manifest keeps that name for its own column")
    tops = _classes(root, root)
    splits = {top: split_name(top.name) for top, _ in tops}
    if not tops:
        raise HmtlError(f"{root}: no class folders with audio files found; {EXPECTED}")
    if any(splits.values()) and not all(splits.values()):
        named = ", ".join(t.name for t, s in splits.items() if s)
        other = ", ".join(t.name for t, s in splits.items() if not s)
        raise HmtlError(f"{root}: {named} look like split folders but {other} do not; {EXPECTED}")
    if all(splits.values()):
        units = [(sub, files, splits[top]) for top, _ in tops for sub, files in _classes(top, root)]
        if not units:
            raise HmtlError(f"{root}: split folders hold no class folders with audio; {EXPECTED}")
    else:
        units = [(top, files, None) for top, files in tops]
    rows = [Row(path, {column: sub.name, "split": split}, str(path))
            for sub, files, split in units for path in files]
    return Table(rows, [column, "split"] if all(splits.values()) else [column])
