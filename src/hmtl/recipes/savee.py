"""Surrey Audio-Visual Expressed Emotion, SAVEE (Haq & Jackson 2009; 4 male actors, 480 clips).
Download: http://kahlan.eps.surrey.ac.uk/savee/ (AudioData.zip, after registering). Licence:
free for research use, on the terms of that registration.

Layout: AudioData/SPK/eNN.wav, or the flat copy that circulates as SPK_eNN.wav (any audio
extension): speaker SPK (DC, JE, JK, KL), emotion code e (a anger, d disgust, f fear,
h happiness, n neutral, sa sadness, su surprise), sentence number NN. All speakers are male, so
there is no gender column: a one-class column is no task."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import HmtlError
from .base import audio_files, bad_name, register_recipe

SPEAKERS = ("DC", "JE", "JK", "KL")
EMOTIONS = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral",
            "sa": "sad", "su": "surprised"}
CODE = r"(sa|su|a|d|f|h|n)(\d\d)"
NESTED, FLAT = re.compile(rf"^{CODE}$"), re.compile(rf"^([A-Z]{{2}})_{CODE}$")


def _parse(path: Path) -> tuple[str, str]:
    """(speaker, emotion code), from either layout."""
    if (m := FLAT.match(path.stem)):
        speaker, code = m.group(1), m.group(2)
    elif (m := NESTED.match(path.stem)) and path.parent.name in SPEAKERS:
        speaker, code = path.parent.name, m.group(1)
    else:
        raise bad_name(path, "SAVEE", "AudioData/SPK/eNN or SPK_eNN, e.g. DC/sa03 or DC_sa03")
    if speaker not in SPEAKERS:
        raise HmtlError(f"{path}: speaker '{speaker}' is not one of SAVEE's {', '.join(SPEAKERS)}")
    return speaker, code


@register_recipe("savee", ["emotion", "speaker", "group"], about=__doc__)
def savee_rows(root: Path):
    for path in audio_files(root):
        speaker, code = _parse(path)
        yield {"path": path, "emotion": EMOTIONS[code], "speaker": speaker, "group": speaker}
