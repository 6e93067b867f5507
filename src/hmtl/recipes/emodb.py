"""Berlin Database of Emotional Speech, EmoDB (Burkhardt et al. 2005; 10 actors, 535 clips).
Download: http://emodb.bilderbar.info/ (download.zip). Licence: none stated; the authors offer
it free of charge for research.

Layout: wav/SSTTTEv.wav (any audio extension): speaker SS (03..16), text code TTT (a01..b10),
emotion letter E (German initials: W Wut, L Langeweile, E Ekel, A Angst, F Freude, T Trauer,
N neutral) and version letter v. The speakers' sex and age are published only in the corpus'
documentation, so they are tabled here."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import HmtlError
from .base import audio_files, bad_name, register_recipe

NAME = re.compile(r"^(\d\d)([ab]\d\d)([WLEAFTN])([a-z])$")
EMOTIONS = {"W": "angry", "L": "bored", "E": "disgust", "A": "fearful", "F": "happy",
            "T": "sad", "N": "neutral"}
SPEAKERS = {"03": ("male", 31), "08": ("female", 34), "09": ("female", 21), "10": ("male", 32),
            "11": ("male", 26), "12": ("male", 30), "13": ("female", 32), "14": ("female", 35),
            "15": ("male", 25), "16": ("female", 31)}


@register_recipe("emodb", ["emotion", "speaker", "gender", "age", "text", "group"], about=__doc__)
def emodb_rows(root: Path):
    for path in audio_files(root, "wav/*"):
        m = NAME.match(path.stem)
        if not m:
            raise bad_name(path, "EmoDB", "SSTTTEv, e.g. 03a01Fa")
        number, text, emotion, _ = m.groups()
        if number not in SPEAKERS:
            raise HmtlError(f"{path}: speaker {number} is not one of EmoDB's ten "
                            f"({', '.join(SPEAKERS)})")
        gender, age = SPEAKERS[number]
        speaker = f"emodb{number}"
        yield {"path": path, "emotion": EMOTIONS[emotion], "speaker": speaker, "gender": gender,
               "age": str(age), "text": text, "group": speaker}
