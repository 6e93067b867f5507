"""RAVDESS, speech part (Livingstone & Russo 2018). Download: https://zenodo.org/record/1188976
(Audio_Speech_Actors_01-24.zip). Licence: CC BY-NC-SA 4.0.

Layout: Actor_AA/03-01-EE-II-SS-RR-AA.wav (any audio extension), the fields being modality,
vocal channel, emotion, intensity, statement, repetition and actor; odd actors are male."""

from __future__ import annotations

from pathlib import Path

from ..errors import HmtlError
from .base import audio_files, register_recipe

EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
            "06": "fearful", "07": "disgust", "08": "surprised"}
INTENSITY = {"01": "normal", "02": "strong"}
STATEMENT = {"01": "kids", "02": "dogs"}


@register_recipe("ravdess", ["emotion", "intensity", "statement", "repetition", "actor", "gender",
                             "group"],
                 about=__doc__)
def ravdess_rows(root: Path):
    for path in audio_files(root, "**/Actor_*/*"):
        fields = path.stem.split("-")
        if len(fields) != 7 or fields[2] not in EMOTIONS:
            raise HmtlError(f"{path}: not a RAVDESS file name (MM-VV-EE-II-SS-RR-AA)")
        _, _, emotion, intensity, statement, repetition, actor = fields
        yield {"path": path, "emotion": EMOTIONS[emotion], "intensity": INTENSITY[intensity],
               "statement": STATEMENT[statement], "repetition": repetition,
               "actor": f"actor{actor}", "gender": "male" if int(actor) % 2 else "female",
               "group": f"actor{actor}"}
