"""Google Speech Commands v0.02 (Warden 2018; 35 words, 105,829 one-second clips). Download:
http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz. Licence: CC BY 4.0.

Layout: WORD/HASH_nohash_N.wav (any audio extension): the word, the speaker's anonymised id
HASH and the take N. validation_list.txt and testing_list.txt name the official val and test
clips (WORD/HASH_nohash_N.wav); every other clip is train. The lists were made by hashing the
speaker id, so the official split is already speaker-disjoint. _background_noise_/ holds long
noise recordings, not commands, and is skipped."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import HmtlError
from .base import audio_files, bad_name, register_recipe

NAME = re.compile(r"^([0-9a-f]+)_nohash_(\d+)$")


def _listed(path: Path) -> set[str]:
    """The clips a split list names, as WORD/STEM: a copy converted to FLAC still matches."""
    if not path.is_file():
        raise HmtlError(f"{path}: official split list not found")
    lines = path.read_text(encoding="utf-8").split()
    return {line.strip().rsplit(".", 1)[0] for line in lines if line.strip()}


@register_recipe("speech-commands", ["word", "speaker", "split", "group"], about=__doc__)
def speech_commands_rows(root: Path):
    files = [p for p in audio_files(root, "*/*") if not p.parent.name.startswith("_")]
    val = _listed(root / "validation_list.txt") if files else set()
    test = _listed(root / "testing_list.txt") if files else set()
    for path in files:
        m = NAME.match(path.stem)
        if not m:
            raise bad_name(path, "Speech Commands",
                           "WORD/HASH_nohash_N, e.g. yes/0a7c2a8d_nohash_0")
        key = f"{path.parent.name}/{path.stem}"
        split = "test" if key in test else "val" if key in val else "train"
        yield {"path": path, "word": path.parent.name, "speaker": m.group(1), "split": split,
               "group": m.group(1)}
