"""lhotse manifests: recordings with supervisions, or cuts.

Layout: ROOT/recordings.jsonl with ROOT/supervisions.jsonl, or ROOT/cuts.jsonl (each may be
gzipped, .jsonl.gz, and named as lhotse recipes name them, PREFIX_recordings_PART.jsonl.gz);
SOURCE may also be one such file. They are read as JSON lines: lhotse need not be installed. A
recording's audio is its one `file` source; a relative path is read from --audio-root (default:
the manifests' folder; lhotse writes paths as they were given when it ran). Each supervision
becomes a row with columns text, speaker, gender, language and its `custom` labels (a cut's
`custom` too), and group = speaker unless --group names another column. When SOURCE holds
several parts and every part's name starts with a split name (train-clean-100, dev-clean,
test-clean), the part is the split (dev -> val).

A manifest row is a whole audio file: hmtl reads no offset into a file. A supervision (or cut)
that covers only a segment of its recording (more than 10 ms, or 1 % of a shorter recording,
missing at either end) is therefore an error that counts them, unless --skip-segments leaves
them out (a note counts them); to use segments, cut the audio into one file per segment first.
Recordings (or cuts) without a supervision are left out, and counted."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import HmtlError
from ..utils.io import user_path
from .importers import (COLUMNS, Option, Row, Table, read_jsonl, register_importer,
                        split_name)

NAME = re.compile(r"^(?:(?P<prefix>.*?)_)?(?P<kind>recordings|supervisions|cuts)"
                  r"(?:_(?P<part>.+?))?(?P<ext>\.jsonl(?:\.gz)?)$")
EXPECTED = ("expected recordings.jsonl[.gz] with supervisions.jsonl[.gz], or cuts.jsonl[.gz] "
            "(lhotse manifests)")
FIELDS = ("text", "speaker", "gender", "language")
WHOLE_S = 0.01          # seconds a supervision may miss at either end and still be the whole
WHOLE_FRACTION = 0.01   # file, and at most this fraction of a short file


@dataclass
class Part:
    """One set of manifests: a cuts file, or a recordings file with its supervisions."""
    name: str                               # the PART of PREFIX_KIND_PART ('' when none)
    cuts: Path | None = None
    recordings: Path | None = None
    supervisions: Path | None = None


@dataclass
class Unit:
    """A supervision read, before it is known whether it covers its whole recording."""
    path: Path
    labels: dict[str, object]
    where: str
    span: tuple[float, float, float]        # start and end in the recording, its duration (s)
    what: str                               # "supervision 'x' of recording 'y'", for messages

    @property
    def whole(self) -> bool:
        start, end, duration = self.span
        slack = min(WHOLE_S, WHOLE_FRACTION * duration)
        return start <= slack and end >= duration - slack


def find_parts(src: Path) -> list[Part]:
    """The manifest sets in folder `src` (or the set file `src` belongs to)."""
    if src.is_file():
        m = NAME.match(src.name)
        if not m:
            raise HmtlError(f"{src}: not a lhotse manifest name; {EXPECTED}")
        files = [src]
        if m["kind"] != "cuts":
            other = "supervisions" if m["kind"] == "recordings" else "recordings"
            stem = "_".join(x for x in (m["prefix"], other, m["part"]) if x)
            files += [src.parent / f"{stem}{ext}" for ext in (".jsonl", ".jsonl.gz")
                      if (src.parent / f"{stem}{ext}").is_file()]
    else:
        files = sorted(p for p in src.iterdir() if p.is_file())
    parts: dict[tuple[str, str], Part] = {}
    for path in files:
        m = NAME.match(path.name)
        if not m:
            continue
        part = parts.setdefault((m["prefix"] or "", m["part"] or ""), Part(m["part"] or ""))
        if getattr(part, m["kind"]) is not None:
            raise HmtlError(f"{path}: {getattr(part, m['kind']).name} holds the same {m['kind']}; "
                            "keep one")
        setattr(part, m["kind"], path)
    for part in parts.values():
        if part.cuts and (part.recordings or part.supervisions):
            raise HmtlError(f"{part.cuts}: cuts beside recordings or supervisions of the same "
                            "set; pass one of them as SOURCE")
        if bool(part.recordings) != bool(part.supervisions):
            have = part.recordings or part.supervisions
            need = "supervisions" if part.recordings else "recordings"
            raise HmtlError(f"{have}: no {need} manifest beside it; {EXPECTED}")
    if not parts:
        raise HmtlError(f"{src}: no lhotse manifests found; {EXPECTED}")
    return [parts[k] for k in sorted(parts)]


def _number(obj: dict, key: str, where: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HmtlError(f"{where}: '{key}' is missing or not a number")
    return float(value)


def _audio(rec: dict, where: str, audio_root: Path) -> tuple[Path, float]:
    """A recording's audio file and duration; one error for what a manifest row cannot be."""
    rid = rec.get("id")
    sources = rec.get("sources") or []
    if len(sources) != 1 or not isinstance(sources[0], dict):
        raise HmtlError(f"{where}: recording '{rid}' has {len(sources)} sources; a manifest row "
                        "is one audio file")
    kind, source = sources[0].get("type"), sources[0].get("source")
    if kind != "file" or not isinstance(source, str):
        raise HmtlError(f"{where}: recording '{rid}' is read from a '{kind}' source; only "
                        "'file' sources name an audio file")
    transforms = [t.get("name") if isinstance(t, dict) else str(t)
                  for t in rec.get("transforms") or []]
    transforms = [t for t in transforms if t != "Resample"]     # hmtl resamples anyway
    if transforms:
        raise HmtlError(f"{where}: recording '{rid}' is transformed "
                        f"({', '.join(map(str, transforms))}); a manifest row is the file as it is")
    path = Path(os.path.normpath(audio_root / user_path(source)))
    if not path.is_file():
        raise HmtlError(f"{where}: audio file {source} not found (a relative path is read from "
                        f"--audio-root, {audio_root})")
    return path, _number(rec, "duration", where)


def _labels(sup: dict, where: str, extra: dict | None = None) -> dict[str, object]:
    """A supervision's label cells: its fields, then its and the cut's `custom` entries."""
    labels = {f: sup[f] for f in FIELDS if sup.get(f) not in (None, "")}
    for custom in (extra, sup.get("custom")):
        for k, v in (custom or {}).items():
            if k in labels and labels[k] != v:
                raise HmtlError(f"{where}: '{k}' is both '{labels[k]}' and '{v}'")
            labels[k] = v
    return labels


def _pair_units(part: Part, audio_root: Path) -> tuple[list[Unit], int]:
    """Units of a recordings + supervisions pair, and how many recordings have none."""
    recordings: dict[str, tuple[dict, str]] = {}
    for n, rec in read_jsonl(part.recordings):
        where = f"{part.recordings}: line {n}"
        if rec.get("id") in recordings:
            raise HmtlError(f"{where}: recording '{rec.get('id')}' is listed twice")
        recordings[rec.get("id")] = (rec, where)
    units, used, audio = [], set(), {}
    for n, sup in read_jsonl(part.supervisions):
        where, rid = f"{part.supervisions}: line {n}", sup.get("recording_id")
        if rid not in recordings:
            raise HmtlError(f"{where}: recording '{rid}' is not in {part.recordings.name}")
        if rid not in audio:
            audio[rid] = _audio(*recordings[rid], audio_root)
        path, duration = audio[rid]
        start = _number(sup, "start", where)
        used.add(rid)
        units.append(Unit(path, _labels(sup, where), where,
                          (start, start + _number(sup, "duration", where), duration),
                          f"supervision '{sup.get('id')}' of recording '{rid}'"))
    return units, len(recordings) - len(used)


def _cut_units(part: Part, audio_root: Path) -> tuple[list[Unit], int]:
    """Units of a cuts file (each supervision spans the cut's own span too), and how many
    cuts have no supervision."""
    units, bare = [], 0
    for n, cut in read_jsonl(part.cuts):
        where = f"{part.cuts}: line {n}"
        kind = cut.get("type", "cut")
        if not isinstance(cut.get("recording"), dict):
            raise HmtlError(f"{where}: a {kind} without a recording; only cuts of one recording "
                            "(MonoCut) become rows")
        path, duration = _audio(cut["recording"], where, audio_root)
        c0 = _number(cut, "start", where)
        c1 = c0 + _number(cut, "duration", where)
        sups = cut.get("supervisions") or []
        bare += not sups
        for sup in sups:
            s0 = c0 + _number(sup, "start", where)
            s1 = s0 + _number(sup, "duration", where)
            units.append(Unit(path, _labels(sup, where, cut.get("custom")), where,
                              (max(s0, c0), min(s1, c1), duration),
                              f"supervision '{sup.get('id')}' of cut '{cut.get('id')}'"))
    return units, bare


def _segments_error(segments: list[Unit], total: int) -> HmtlError:
    first = segments[0]
    start, end, duration = first.span
    return HmtlError(f"{first.where}: {first.what} covers {start:.3f}-{end:.3f} s of a "
                     f"{duration:.3f} s recording; a manifest row is a whole audio file, so "
                     f"{len(segments)} of {total} supervisions cannot be imported: cut the audio "
                     "into one file per segment, or pass --skip-segments to leave them out")


@register_importer("lhotse", about=__doc__, options=(
    Option("--audio-root", "folder that relative audio paths start from (default: the "
                           "manifests' folder)", metavar="DIR"),
    Option("--skip-segments", "leave out supervisions that cover only part of their recording "
                              "(default: an error)", default=False),
    Option("--group", "copy COLUMN into the `group` column (default: speaker, when the "
                      "supervisions name speakers)", metavar="COLUMN"),
    COLUMNS))
def lhotse_rows(src: Path, audio_root: str | None = None, skip_segments: bool = False,
                group: str | None = None, columns: str | None = None) -> Table:
    parts = find_parts(src)
    folder = src if src.is_dir() else src.parent
    root = user_path(audio_root).resolve() if audio_root else folder
    splits = {p.name: split_name(re.split(r"[-_.]", p.name)[0]) for p in parts}
    by_part = len(parts) > 1 and all(splits.values())
    units, bare, notes = [], 0, []
    for part in parts:
        read, extra = _cut_units(part, root) if part.cuts else _pair_units(part, root)
        if by_part:
            for u in read:
                u.labels["split"] = splits[part.name]
        units += read
        bare += extra
    if len(parts) > 1 and not by_part:
        notes.append(f"parts {', '.join(p.name or '(unnamed)' for p in parts)} do not all name "
                     "a split; no split column written (the run splits)")
    if not units:
        raise HmtlError(f"{src}: no supervisions in the lhotse manifests; each row of the "
                        "manifest is a supervision")
    segments = [u for u in units if not u.whole]
    if segments and not skip_segments:
        raise _segments_error(segments, len(units))
    if len(segments) == len(units):
        raise HmtlError(f"{src}: all {len(units)} supervisions cover only part of their "
                        "recording; a manifest row is a whole audio file")
    if segments:
        notes.append(f"{len(segments)} of {len(units)} supervisions cover only part of their "
                     "recording and were left out (--skip-segments)")
    if bare:
        notes.append(f"{bare} recording(s) or cut(s) without a supervision were left out")
    rows = [Row(u.path, u.labels, u.where) for u in units if u.whole]
    seen = [k for r in rows for k in r.cells]
    order = [f for f in FIELDS if f in seen] + list(dict.fromkeys(k for k in seen
                                                                if k not in FIELDS))
    if group is None and "speaker" in order and "group" not in order:
        group = "speaker"
    return Table(rows, order, notes).group_by(group).select(columns)
