"""CREMA-D, Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al. 2014; 91 actors, 7442
clips). Download: https://github.com/CheyneyComputerScience/CREMA-D (git LFS). Licence: Open
Database License (ODbL) v1.0, contents under the Database Contents License (DbCL) v1.0.

Layout: AudioWAV/AAAA_SSS_EEE_LL.wav (any audio extension): actor AAAA (1001..1091), sentence
code SSS (IEO, TIE, ...), emotion EEE (ANG DIS FEA HAP NEU SAD) and the level the actor was
asked for, LL (LO, MD, HI, or XX = unspecified, left unlabelled here rather than made a class).
VideoDemographics.csv (ActorID, Age, Sex, Race, Ethnicity) gives each actor's sex and age.
The labels are the intended ones, not the crowd's ratings (summaryTable.csv)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..errors import HmtlError
from .base import audio_files, bad_name, register_recipe

NAME = re.compile(r"^(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX)$")
EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral",
            "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": ""}


def _actors(table: Path) -> dict[str, dict]:
    if not table.is_file():
        raise HmtlError(f"{table}: actor table not found")
    with open(table, newline="", encoding="utf-8-sig") as f:
        rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k}
                for r in csv.DictReader(f)]
    if not rows or not {"ActorID", "Age", "Sex"} <= rows[0].keys():
        raise HmtlError(f"{table}: expected columns ActorID, Age and Sex")
    return {r["ActorID"]: r for r in rows}


@register_recipe("crema-d", ["emotion", "intensity", "sentence", "speaker", "gender", "age",
                             "group"], about=__doc__)
def crema_d_rows(root: Path):
    files = audio_files(root, "AudioWAV/*")
    actors = _actors(root / "VideoDemographics.csv") if files else {}
    for path in files:
        m = NAME.match(path.stem)
        if not m:
            raise bad_name(path, "CREMA-D", "AAAA_SSS_EEE_LL, e.g. 1001_DFA_ANG_XX")
        actor, sentence, emotion, level = m.groups()
        if actor not in actors:
            raise HmtlError(f"{path}: actor {actor} is not in VideoDemographics.csv")
        speaker = f"cremad{actor}"
        yield {"path": path, "emotion": EMOTIONS[emotion], "intensity": LEVELS[level],
               "sentence": sentence, "speaker": speaker,
               "gender": actors[actor]["Sex"].lower(), "age": actors[actor]["Age"],
               "group": speaker}
