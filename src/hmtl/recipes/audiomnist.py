"""AudioMNIST, the original English spoken digits (Becker et al. 2018; 60 speakers x 10 digits x
50 takes). Download: https://github.com/soerenab/AudioMNIST (a git repository). Licence: MIT.

Layout: data/NN/D_NN_I.wav (any audio extension): digit D said by speaker NN (01..60), take I.
data/audioMNIST_meta.txt is a JSON object keyed by speaker id ("01") whose values hold gender,
age, accent, native speaker, origin, recordingdate and recordingroom; gender, age and accent
become columns. Accent and gender are lower-cased: the file spells some of them both ways.

Speakers become `am01`..`am60`, apart from other digits corpora' numbered speakers."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import HmtlError
from .base import audio_files, bad_name, register_recipe

NAME = re.compile(r"^(\d)_(\d+)_(\d+)$")


def _meta(path: Path) -> dict[int, dict]:
    if not path.is_file():
        raise HmtlError(f"{path}: speaker metadata not found")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {int(k): dict(v) for k, v in raw.items()}
    except (ValueError, AttributeError, TypeError) as e:
        raise HmtlError(f"{path}: not a JSON object keyed by speaker number ({e})") from None


@register_recipe("audiomnist", ["digit", "speaker", "gender", "age", "accent", "group"],
                 about=__doc__)
def audiomnist_rows(root: Path):
    files = audio_files(root, "data/*/*")
    meta = _meta(root / "data" / "audioMNIST_meta.txt") if files else {}
    for path in files:
        m = NAME.match(path.stem)
        if not m:
            raise bad_name(path, "AudioMNIST", "D_NN_I, e.g. 7_03_12")
        digit, number, _ = m.groups()
        info = meta.get(int(number))
        if info is None:
            raise HmtlError(f"{path}: speaker {number} is not in audioMNIST_meta.txt")
        speaker = f"am{int(number):02d}"
        yield {"path": path, "digit": digit, "speaker": speaker,
               "gender": str(info.get("gender", "")).strip().lower(),
               "age": str(info.get("age", "")).strip(),
               "accent": str(info.get("accent", "")).strip().lower(), "group": speaker}
