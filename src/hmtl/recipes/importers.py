"""Importers: a manifest from a generic layout (a folder per class, Hugging Face AudioFolder,
lhotse manifests) rather than from one corpus' file names.

A corpus recipe (base.py) knows its columns before it reads anything and has no options; an
importer's label columns come from the data, and it takes options (`--column`, `--group`), so
importers have their own registry. `hmtl prepare NAME SOURCE --out M.csv` runs either kind and
writes paths the same way (base.manifest_path: relative when the audio lies below the manifest)."""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HmtlError
from ..utils.io import user_path
from .base import manifest_path

# Split folder (or part) names, as Hugging Face `datasets` infers splits: keyword -> manifest split.
SPLIT_NAMES = {"train": "train", "training": "train",
               "validation": "val", "valid": "val", "val": "val", "dev": "val",
               "test": "test", "testing": "test", "eval": "test", "evaluation": "test"}
SPLITS = ("train", "val", "test")


def split_name(text: str) -> str | None:
    """The manifest split a folder, part or cell names (validation -> val), None if none."""
    return SPLIT_NAMES.get(text.strip().lower())


@dataclass(frozen=True)
class Option:
    """One command-line option of an importer; its value reaches the reader as keyword `dest`.
    A default of False makes it a switch."""
    flag: str
    help: str
    default: str | bool | None = None
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.default is False:
            parser.add_argument(self.flag, action="store_true", help=self.help)
        else:
            parser.add_argument(self.flag, default=self.default, metavar=self.metavar,
                                help=self.help)


# The two options importers with free label columns share.
COLUMNS = Option("--columns", "keep only these label columns (comma-separated; default: all)",
                 metavar="A,B,...")
GROUP = Option("--group", "copy COLUMN into the `group` column (a speaker, for a split that "
                          "keeps each group in one split)", metavar="COLUMN")


@dataclass
class Row:
    """One clip: its audio file (absolute), its cells by column, and where it was read, for
    messages ('metadata.csv: row 3')."""
    path: Path
    cells: dict[str, object]
    where: str


@dataclass
class Table:
    """What an importer read: one row per clip, the label columns in order (`split` and `group`
    are written after them when rows have them), and notes for the user (what was left out)."""
    rows: list[Row]
    columns: list[str]
    notes: list[str] = field(default_factory=list)

    def group_by(self, column: str | None) -> Table:
        """Copy `column` into `group` (--group), as the corpus recipes write speaker and group."""
        if not column:
            return self
        if column not in self.columns:
            raise HmtlError(f"--group {column}: no such column (columns: "
                            f"{', '.join(self.columns) or 'none'})")
        if "group" in self.columns:
            raise HmtlError(f"--group {column}: the data already has a 'group' column")
        for row in self.rows:
            row.cells["group"] = row.cells.get(column)
        self.columns.append("group")
        return self

    def select(self, names: str | None) -> Table:
        """Keep only the label columns `names` lists (--columns A,B), in that order; split and
        group stay."""
        if not names:
            return self
        keep = [n.strip() for n in names.split(",") if n.strip()]
        unknown = [n for n in keep if n not in self.columns]
        if unknown:
            raise HmtlError(f"--columns: no column {', '.join(unknown)} (columns: "
                            f"{', '.join(self.columns) or 'none'})")
        own = [c for c in ("split", "group") if c in self.columns and c not in keep]
        for row in self.rows:
            row.cells = {k: v for k, v in row.cells.items() if k in keep or k in own}
        self.columns = [*keep, *own]
        return self


@dataclass
class Importer:
    name: str
    read: Callable[..., Table]               # (source, **options) -> Table
    about: str
    options: tuple[Option, ...] = ()

    @property
    def title(self) -> str:
        """The docstring's first sentence: the one line `hmtl prepare --help` shows."""
        return " ".join(self.about.split()).split(". ")[0].rstrip(".")

    def options_from(self, args: argparse.Namespace) -> dict:
        return {o.dest: getattr(args, o.dest) for o in self.options}


IMPORTERS: dict[str, Importer] = {}


def register_importer(name: str, about: str, options: tuple[Option, ...] = ()):
    def deco(fn: Callable[..., Table]):
        IMPORTERS[name] = Importer(name, fn, about, options)
        return fn
    return deco


def read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) per non-blank line of a JSON-lines file, gzipped when it ends in
    .gz; a line that is not a JSON object is an error naming it."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise HmtlError(f"{path}: line {n}: not JSON ({e.msg})") from None
                if not isinstance(obj, dict):
                    raise HmtlError(f"{path}: line {n}: not a JSON object")
                yield n, obj
    except (OSError, EOFError, UnicodeDecodeError) as e:    # gzip.BadGzipFile is an OSError
        raise HmtlError(f"{path}: not readable ({e})") from None


def cell(value: object, where: str, column: str) -> str:
    """A manifest cell from a CSV or JSON value: None is empty (unlabelled), numbers and booleans
    are written as JSON writes them; a list or an object is one error naming row and column."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, (int, float, str)):
        return str(value).strip()
    kind = "a list" if isinstance(value, list) else "an object"
    raise HmtlError(f"{where}: column '{column}' holds {kind}, not one label "
                    f"(choose label columns with --columns)")


def _split_cell(value: object, where: str) -> str:
    text = cell(value, where, "split")
    split = split_name(text)
    if split is None:
        raise HmtlError(f"{where}: split '{text}' is not one of train, validation (val), test")
    return split


def write_import(name: str, src: str | Path, out: str | Path,
                 **options) -> tuple[Path, int, list[str]]:
    """Write the manifest importer `name` reads from `src` to `out`; returns the manifest, its
    number of rows and the importer's notes."""
    if name not in IMPORTERS:
        raise HmtlError(f"unknown importer '{name}'; known: {', '.join(sorted(IMPORTERS))}")
    src, out = user_path(src).resolve(), Path(out)
    if not src.exists():
        raise HmtlError(f"{src}: not found")
    table = IMPORTERS[name].read(src, **options)
    if not table.rows:
        raise HmtlError(f"{src}: no clips to import")
    labels = [c for c in table.columns if c not in ("path", "split", "group")]
    if "path" in table.columns:
        raise HmtlError(f"{table.rows[0].where}: a label column is named 'path', which the "
                        "manifest keeps for the audio file")
    has_split = any(r.cells.get("split") not in (None, "") for r in table.rows)
    columns = labels + (["split"] if has_split else []) + (["group"] if "group" in table.columns
                                                          else [])
    seen: dict[Path, str] = {}
    records = []
    for row in table.rows:
        if row.path in seen:
            raise HmtlError(f"{row.where}: {row.path} is already listed ({seen[row.path]})")
        seen[row.path] = row.where
        cells = {c: cell(row.cells.get(c), row.where, c) for c in labels + ["group"]}
        if has_split:
            if row.cells.get("split") in (None, ""):
                raise HmtlError(f"{row.where}: {row.path.name} has no split but other clips do; "
                                "a split column must cover every row")
            cells["split"] = _split_cell(row.cells["split"], row.where)
        records.append([cells[c] for c in columns])
    notes = list(table.notes)
    if has_split:
        missing = [s for s in SPLITS if not any(r[columns.index("split")] == s for r in records)]
        if missing:
            notes.append(f"no {' or '.join(missing)} clips: a run needs train, val and test; "
                         f"drop the split (hmtl prepare merge {out} --out OUT.csv --drop split) "
                         "to let the run split")
    out.parent.mkdir(parents=True, exist_ok=True)
    base = out.resolve().parent
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", *columns])
        for row, rec in zip(table.rows, records):
            w.writerow([str(manifest_path(row.path, base)), *rec])
    return out, len(records), notes
