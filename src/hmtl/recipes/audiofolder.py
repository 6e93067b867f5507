"""Hugging Face AudioFolder, metadata.csv with file_name.

Layout: ROOT/metadata.csv (or metadata.jsonl), or one per split folder (ROOT/train/,
ROOT/validation/, ROOT/test/), as `datasets`' AudioFolder reads them: `file_name` names the audio
file relative to the metadata file's folder, and every other column is a label column (--columns
keeps some; JSON numbers and booleans are written as JSON spells them). The split is the first
folder below ROOT when it is a split name (train; validation, valid, val or dev -> val; test), or
a `split` column. Audio that no metadata file names is left out, and counted. Not read:
metadata.parquet, and labels inferred from folder names where there is no metadata (the `folder`
importer reads a folder per class)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import HmtlError
from ..utils.io import user_path
from .base import audio_files
from .importers import (COLUMNS, GROUP, Row, Table, read_jsonl, register_importer,
                        split_name)

METADATA = ("metadata.csv", "metadata.jsonl")
EXPECTED = ("expected ROOT/metadata.csv (or .jsonl) with a file_name column, or one per split "
            "folder, ROOT/SPLIT/metadata.csv")


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def metadata_files(root: Path) -> list[Path]:
    """Every metadata.csv / metadata.jsonl below root; one of each kind per folder at most."""
    found = sorted(p for p in root.rglob("metadata.*")
                   if p.name in METADATA and p.is_file() and not _hidden(p, root))
    folders = [p.parent for p in found]
    twice = next((f for f in folders if folders.count(f) > 1), None)
    if twice:
        raise HmtlError(f"{twice}: holds both metadata.csv and metadata.jsonl; keep one")
    if not found:
        parquet = next(root.rglob("metadata.parquet"), None)
        if parquet:
            raise HmtlError(f"{parquet}: metadata.parquet is not read; write it as metadata.csv "
                            "or metadata.jsonl")
        raise HmtlError(f"{root}: no metadata.csv or metadata.jsonl found; {EXPECTED} "
                        "(a folder per class without metadata: hmtl prepare folder)")
    return found


def _records(path: Path) -> Iterator[tuple[str, dict]]:
    """(where, record) per clip the metadata file lists, each record with a file_name."""
    if path.suffix == ".jsonl":
        records = ((f"{path}: line {n}", rec) for n, rec in read_jsonl(path))
    else:
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                table = list(csv.reader(f))
        except (UnicodeDecodeError, csv.Error) as e:
            raise HmtlError(f"{path}: not a readable CSV file ({e})") from None
        header = [h.strip() for h in table[0]] if table else []
        if "" in header or len(set(header)) != len(header):
            raise HmtlError(f"{path}: empty or repeated column name in the header "
                            f"({', '.join(header)})")
        records = []
        for n, rec in enumerate(table[1:], start=2):
            if not any(c.strip() for c in rec):
                continue
            if len(rec) != len(header):
                raise HmtlError(f"{path}: row {n}: {len(rec)} fields, the header has "
                                f"{len(header)}")
            records.append((f"{path}: row {n}", dict(zip(header, rec))))
    for where, rec in records:
        if "file_name" not in rec:
            raise HmtlError(f"{where}: no file_name (columns: {', '.join(rec)}); {EXPECTED}")
        yield where, rec


@register_importer("audiofolder", about=__doc__, options=(COLUMNS, GROUP))
def audiofolder_rows(root: Path, columns: str | None = None, group: str | None = None) -> Table:
    if not root.is_dir():
        raise HmtlError(f"{root}: not a folder; {EXPECTED}")
    rows, order = [], []
    for meta in metadata_files(root):
        for where, rec in _records(meta):
            name = str(rec.pop("file_name") or "").strip()
            if not name:
                raise HmtlError(f"{where}: empty file_name")
            # normpath, not resolve: a symlinked clip keeps its name below ROOT
            path = Path(os.path.normpath(meta.parent / user_path(name)))
            if not path.is_file():
                raise HmtlError(f"{where}: audio file {name} not found (file_name is relative "
                                f"to {meta.parent})")
            rel = path.relative_to(root).parts if path.is_relative_to(root) else ()
            folder = split_name(rel[0]) if len(rel) > 1 else None
            if folder:
                stated = rec.get("split")
                if stated not in (None, "") and split_name(str(stated)) != folder:
                    raise HmtlError(f"{where}: split '{stated}', but {name} lies in the "
                                    f"{rel[0]} folder")
                rec["split"] = folder
            order += [k for k in rec if k not in order]
            rows.append(Row(path, rec, where))
    listed = {r.path for r in rows}
    unlisted = [p for p in audio_files(root) if p not in listed and not _hidden(p, root)]
    notes = [(f"{len(unlisted)} audio file(s) below {root} are in no metadata file and were left "
             f"out (e.g. {unlisted[0].relative_to(root)})")] if unlisted else []
    return Table(rows, order, notes).group_by(group).select(columns)
