"""Arabic Speech Commands (Ghandoura, Hjabo & Al Dakkak 2021), 40 keywords said by 30
contributors, ten rounds each. Download: https://github.com/abdulkaderghandoura/arabic-speech-commands-dataset
(16 kHz WAV). Licence: CC BY 4.0.

Layout: dataset/KEYWORD/SSSSSSSS_NO_RR.wav (any audio extension): keyword KEYWORD (the folder,
any keyword: the ten digits zero..nine or the other commands) said by contributor SSSSSSSS
(8 digits) in round RR (01..10); the corpus' train.csv, val.csv and test.csv list `file,class`.

Columns: keyword, digit (0..9 when the keyword is a digit word, as FSDD and AudioMNIST write
digits, so the corpora merge; empty otherwise), speaker (`ar` + the contributor's number, so it
never collides with another corpus' speakers), round, group (= speaker). No split by default: the corpus' own split
(`--corpus-split`, from train/val/test.csv) is speaker-disjoint, right for keywords on unseen
speakers, wrong for speaker identification (for that, let the run split stratified by speaker,
or by round)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..errors import HmtlError
from .base import audio_files, bad_name, register_recipe

NAME = re.compile(r"^(\d{8})_NO_(\d{2})$")
DIGITS = {w: str(i) for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six",
                                           "seven", "eight", "nine"))}
SPLIT_FILES = {"train": "train.csv", "val": "val.csv", "test": "test.csv"}


def corpus_split(root: Path) -> dict[str, str]:
    """'KEYWORD/STEM' -> train/val/test, from the corpus' own lists."""
    out = {}
    for split, name in SPLIT_FILES.items():
        path = root / name
        if not path.is_file():
            raise HmtlError(f"{path}: the corpus' split list is missing (--corpus-split needs "
                            f"{', '.join(SPLIT_FILES.values())})")
        with open(path, newline="", encoding="utf-8-sig") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):
                if "file" not in row:
                    raise HmtlError(f"{path}: expected a header with a 'file' column")
                p = Path(row["file"])
                if len(p.parts) < 2:
                    raise HmtlError(f"{path}, row {i}: '{row['file']}' is not KEYWORD/FILE")
                out[f"{p.parts[-2]}/{p.stem}"] = split
    return out


@register_recipe("arabic-sc", ["keyword", "digit", "speaker", "round", "group"], about=__doc__,
                 split="the corpus' own speaker-disjoint train/val/test.csv")
def arabic_sc_rows(root: Path, corpus_split_: bool = False):
    files = audio_files(root, "dataset/*/*")
    splits = corpus_split(root) if (corpus_split_ and files) else None
    for path in files:
        m = NAME.match(path.stem)
        if not m:
            raise bad_name(path, "Arabic Speech Commands", "SSSSSSSS_NO_RR, e.g. 00000007_NO_03")
        speaker, round_ = f"ar{int(m.group(1)):02d}", str(int(m.group(2)))
        keyword = path.parent.name
        row = {"path": path, "keyword": keyword, "digit": DIGITS.get(keyword, ""),
               "speaker": speaker, "round": round_, "group": speaker}
        if splits is not None:
            key = f"{path.parent.name}/{path.stem}"
            if key not in splits:
                raise HmtlError(f"{path}: not in the corpus' train/val/test lists")
            row["split"] = splits[key]
        yield row
