"""Merge manifests into one, e.g. two digits corpora in two languages into one multi-task corpus.

The output has the union of the inputs' columns, an empty cell (= unlabelled) wherever an input
lacks a column, and paths that still point at the same files from the new manifest's folder.
Two options cover what the inputs cannot say themselves: a constant column per input
(`language=en,az`) and a value for one input's empty cells (FSDD's speakers are all male, so its
missing gender can be filled in). A third drops a column: a `split` that only some inputs have
cannot be completed by leaving cells empty (every row needs one), and without the column a run
splits by its config (e.g. group-disjoint). Nothing is read but the CSV files."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import HmtlError
from ..utils.io import user_path
from .base import manifest_path


def _read(path: Path) -> tuple[list[str], list[dict]]:
    """Header and rows of one input, each row's path made absolute (and the CSV line kept)."""
    if not path.is_file():
        raise HmtlError(f"{path}: manifest not found")
    with open(path, newline="", encoding="utf-8-sig") as f:
        records = list(csv.reader(f))
    header = [h.strip() for h in records[0]] if records else []
    if "path" not in header:
        raise HmtlError(f"{path}: no 'path' column (columns: {', '.join(header)})")
    base, rows = path.resolve().parent, []
    for n, rec in enumerate(records[1:], start=2):
        if not any(c.strip() for c in rec):
            continue
        if len(rec) != len(header):
            raise HmtlError(f"{path}: row {n}: {len(rec)} fields, the header has {len(header)}")
        row = {h: c.strip() for h, c in zip(header, rec)}
        row["path"] = (base / user_path(row["path"])).resolve()
        row["_line"] = n
        rows.append(row)
    return header, rows


def merge_manifests(inputs: list[str | Path], out: str | Path,
                    add: dict[str, list[str]] | None = None,
                    fill: list[tuple[int | None, str, str]] | None = None,
                    drop: list[str] | None = None) -> tuple[Path, int]:
    """Write the merge of `inputs` to `out`. `add` maps a new column to one value per input;
    `fill` holds (input index from 0, or None for every input; column; value) for empty cells;
    `drop` names columns left out of the output."""
    inputs, out, add, fill = [Path(p) for p in inputs], Path(out), add or {}, fill or []
    drop = set(drop or [])
    for name in [*add, *(c for _, c, _ in fill), *drop]:
        if name == "path" or not name:
            raise HmtlError(f"column '{name}': cannot be added, filled or dropped")
    for index, name, _ in fill:
        if index is not None and not 0 <= index < len(inputs):
            raise HmtlError(f"--fill {index + 1}:{name}: there are only {len(inputs)} input(s)")
    read = [_read(p) for p in inputs]
    columns = ["path"]
    for header, _ in read:
        columns += [h for h in header if h not in columns]
    for name, values in add.items():
        if len(values) != len(inputs):
            raise HmtlError(f"--add-column {name}: {len(values)} value(s) for {len(inputs)} inputs")
        if name in columns:
            raise HmtlError(f"--add-column {name}: an input already has that column; use --fill")
        columns.append(name)
    columns += [c for _, c, _ in fill if c not in columns]
    if drop - set(columns):
        missing = ", ".join(sorted(drop - set(columns)))
        raise HmtlError(f"--drop {missing}: no input has that column")
    columns = [c for c in columns if c not in drop]

    seen: dict[Path, str] = {}
    for k, (path, (_, rows)) in enumerate(zip(inputs, read)):
        for row in rows:
            line = row.pop("_line")
            where = f"{path}: row {line}"
            if row["path"] in seen:
                raise HmtlError(f"{where}: {row['path']} is already listed by {seen[row['path']]}")
            seen[row["path"]] = f"input {k + 1} ({path}), row {line}"
            for name, values in add.items():
                row[name] = values[k]
            for index, name, value in fill:
                if index in (None, k) and not row.get(name):
                    row[name] = value
            if "split" in columns and not row.get("split"):
                raise HmtlError(f"{where}: no split, but other inputs have one; give it one "
                                f"(--fill {k + 1}:split=train) or drop the column (--drop split)")

    out.parent.mkdir(parents=True, exist_ok=True)
    base = out.resolve().parent
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for _, rows in read:
            for row in rows:
                row["path"] = manifest_path(row["path"], base)
                w.writerow([str(row.get(c, "")) for c in columns])
    return out, len(seen)
