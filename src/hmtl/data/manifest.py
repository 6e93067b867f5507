"""The CSV manifest of interfaces.md: one row per clip, `path` relative to the manifest's folder
(or absolute), optional `split` and `group`, one column per task label; empty cell = unlabelled."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import TaskConfig
from ..errors import HmtlError
from ..utils.io import user_path

SPLITS = ("train", "val", "test")


@dataclass
class Manifest:
    source: Path
    paths: list[Path]                       # resolved paths
    rows: list[int]                         # CSV line numbers (header = line 1), for messages
    labels: dict[str, list[str | None]]     # task name -> label per row (None = unlabelled)
    split: list[str] | None = None
    group: list[str | None] | None = None
    classes: dict[str, list[str]] = field(default_factory=dict)     # classification, verification
    types: dict[str, str] = field(default_factory=dict)

    def is_regression(self, task: str) -> bool:
        return self.types.get(task) == "regression"

    def __len__(self) -> int:
        return len(self.paths)

    def where(self, i: int) -> str:
        return f"{self.source}: row {self.rows[i]} ({self.paths[i]})"

    def encoded(self, task: str) -> np.ndarray:
        """Class (or identity) indices (int64), -1 where the clip is unlabelled for `task`; for a
        regression task 0 marks a labelled clip (its number is in `values`)."""
        if self.is_regression(task):
            return np.array([-1 if v is None else 0 for v in self.labels[task]], dtype=np.int64)
        index = {c: k for k, c in enumerate(self.classes[task])}
        return np.array([-1 if v is None else index[v] for v in self.labels[task]], dtype=np.int64)

    def values(self, task: str) -> np.ndarray:
        """A regression task's numbers (float64), NaN where unlabelled (or not a regression)."""
        if not self.is_regression(task):
            return np.full(len(self), np.nan)
        return np.array([np.nan if v is None else float(v) for v in self.labels[task]])

    def subset(self, keep: np.ndarray) -> "Manifest":
        keep = [int(i) for i in keep]
        pick = lambda xs: None if xs is None else [xs[i] for i in keep]  # noqa: E731
        return Manifest(self.source, pick(self.paths), pick(self.rows),
                        {t: pick(v) for t, v in self.labels.items()}, pick(self.split),
                        pick(self.group), dict(self.classes), dict(self.types))


def _class_order(values: set[str]) -> list[str]:
    """Numbers in numeric order, other labels alphabetically: '2' < '10', 'a' < 'b'."""
    def key(v: str):
        try:
            return (0, float(v), v)
        except ValueError:
            return (1, 0.0, v)
    return sorted(values, key=key)


def read_manifest(path: str | Path, tasks: list[TaskConfig]) -> Manifest:
    path = Path(path)
    if not path.is_file():
        raise HmtlError(f"{path}: manifest not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            records = list(reader)
    except (UnicodeDecodeError, csv.Error) as e:
        raise HmtlError(f"{path}: not a readable CSV file ({e})") from None
    if not header:
        raise HmtlError(f"{path}: empty manifest (no header row)")
    header = [h.strip() for h in header]
    if "path" not in header:
        raise HmtlError(f"{path}: no 'path' column (columns: {', '.join(header)})")
    col = {name: i for i, name in enumerate(header)}
    for t in tasks:
        if t.label_column not in col:
            raise HmtlError(f"{path}: task '{t.name}' needs column '{t.label_column}', "
                            f"not in the header ({', '.join(header)})")
    base = path.resolve().parent
    paths, rows, split, group = [], [], [], []
    labels: dict[str, list[str | None]] = {t.name: [] for t in tasks}
    seen: dict[Path, int] = {}
    for n, rec in enumerate(records, start=2):
        if not rec or all(not c.strip() for c in rec):
            continue  # blank line
        if len(rec) != len(header):
            raise HmtlError(f"{path}: row {n}: {len(rec)} fields, the header has {len(header)}")
        cell = rec[col["path"]].strip()
        if not cell:
            raise HmtlError(f"{path}: row {n}: empty path")
        p = user_path(cell)
        p = p if p.is_absolute() else base / p
        if p in seen:
            raise HmtlError(f"{path}: row {n}: duplicate of row {seen[p]} ({cell})")
        seen[p] = n
        paths.append(p)
        rows.append(n)
        for t in tasks:
            v = rec[col[t.label_column]].strip()
            labels[t.name].append(v or None)
        if "split" in col:
            s = rec[col["split"]].strip().lower()
            if s not in SPLITS:
                raise HmtlError(f"{path}: row {n}: split '{s}' is not one of {', '.join(SPLITS)}")
            split.append(s)
        if "group" in col:
            group.append(rec[col["group"]].strip() or None)
    if not paths:
        raise HmtlError(f"{path}: no rows")
    m = Manifest(path, paths, rows, labels, split if "split" in col else None,
                 group if "group" in col else None)
    for t in tasks:
        m.types[t.name] = t.type
        values = {v for v in labels[t.name] if v is not None}
        if t.type == "regression":
            for v, n in zip(labels[t.name], rows):
                if v is not None and not _is_finite_number(v):
                    raise HmtlError(f"{path}: row {n}: task '{t.name}' (column "
                                    f"'{t.label_column}'): '{v}' is not a number")
            if len({float(v) for v in values}) < 2:
                raise HmtlError(f"{path}: task '{t.name}' (column '{t.label_column}') needs at "
                                f"least 2 different values")
            continue
        if len(values) < 2:
            what = "identities; a verification" if t.type == "verification" else \
                "class(es); a classification"
            raise HmtlError(f"{path}: task '{t.name}' (column '{t.label_column}') has "
                            f"{len(values)} {what} task needs at least 2")
        m.classes[t.name] = _class_order(values)
    return m


def _is_finite_number(text: str) -> bool:
    try:
        return np.isfinite(float(text))
    except ValueError:
        return False
