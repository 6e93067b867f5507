"""AudioMNIST_AZ, Azerbaijani spoken digits (59 speakers). Download: from its authors' release
(no address is recorded here; this module knows only the layout). Licence: as published by its
authors; check their terms before redistributing.

Layout: data/SS/D_SS_I.wav (any audio extension): digit D said by speaker SS (01..59), take I.
metadata.txt is the corpus' own table (`SPK ID,0,...,9,Gender`, unpadded ids, CRLF lines): per
speaker the number of takes per digit and gender M/F. Only gender is read: the take counts
differ slightly from the files present, and the files are what a manifest must describe.

Speakers become `az01`..`az59`, so that a merge with another digits corpus keeps them apart."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..errors import HmtlError
from .base import audio_files, bad_name, register_recipe

NAME = re.compile(r"^(\d)_(\d+)_(\d+)$")
GENDER = {"M": "male", "F": "female"}


def _genders(table: Path) -> dict[int, str]:
    if not table.is_file():
        raise HmtlError(f"{table}: speaker table not found")
    with open(table, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        if "spk id" not in header or "gender" not in header:
            raise HmtlError(f"{table}: expected columns 'SPK ID' and 'Gender'")
        sid, gen = header.index("spk id"), header.index("gender")
        out = {}
        for n, rec in enumerate(reader, start=2):
            if not any(c.strip() for c in rec):
                continue
            try:
                out[int(rec[sid])] = GENDER[rec[gen].strip().upper()]
            except (ValueError, IndexError, KeyError):
                raise HmtlError(f"{table}: row {n}: expected a speaker number and gender M/F") \
                    from None
    return out


@register_recipe("audiomnist-az", ["digit", "speaker", "gender", "group"], about=__doc__)
def audiomnist_az_rows(root: Path):
    files = audio_files(root, "data/*/*")
    genders = _genders(root / "metadata.txt") if files else {}
    for path in files:
        m = NAME.match(path.stem)
        if not m:
            raise bad_name(path, "AudioMNIST_AZ", "D_SS_I, e.g. 7_03_2")
        digit, number, _ = m.groups()
        if int(number) not in genders:
            raise HmtlError(f"{path}: speaker {number} is not in {root / 'metadata.txt'}")
        speaker = f"az{int(number):02d}"
        yield {"path": path, "digit": digit, "speaker": speaker, "gender": genders[int(number)],
               "group": speaker}
