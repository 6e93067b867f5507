"""Free Spoken Digit Dataset, FSDD (Jackson et al.). Download:
https://github.com/Jakobovski/free-spoken-digit-dataset (a git repository; recordings are 8 kHz
WAV). Licence: CC BY-SA 4.0.

Layout: recordings/D_SPEAKER_I.wav (any audio extension): digit D said by SPEAKER, take I
(0..49). Speaker gender and accent come from speakers.csv (speaker,gender,accent,...) when
present, else from the repository's own metadata.py (a `metadata = {...}` dict).

Split: the corpus' convention puts takes 0..4 of every speaker and digit in the test set. A
split column must cover every row, so takes 5..9 become `val` and the rest `train`; all
speakers thus appear in all three splits (a speaker-disjoint split needs `group` instead)."""

from __future__ import annotations

import ast
import csv
import re
from pathlib import Path

from ..errors import HmtlError
from .base import audio_files, bad_name, register_recipe

NAME = re.compile(r"^(\d)_([A-Za-z0-9]+)_(\d+)$")


def _speakers(root: Path) -> dict[str, dict]:
    """speaker -> {gender, accent, ...}, from whichever table this copy has."""
    table, script = root / "speakers.csv", root / "metadata.py"
    if table.is_file():
        with open(table, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
        if not rows or "speaker" not in rows[0]:
            raise HmtlError(f"{table}: expected a header with a 'speaker' column")
        return {r["speaker"].strip(): {k: (v or "").strip() for k, v in r.items()} for r in rows}
    if script.is_file():
        # Read the dict literal without executing the file: it is data, not code we trust.
        try:
            for node in ast.parse(script.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "metadata"
                                                        for t in node.targets):
                    return dict(ast.literal_eval(node.value))
        except (SyntaxError, ValueError, TypeError):
            pass
        raise HmtlError(f"{script}: no `metadata = {{...}}` dict literal found")
    raise HmtlError(f"{table}: speaker table not found (nor {script.name})")


def _split(take: int) -> str:
    return "test" if take < 5 else "val" if take < 10 else "train"


@register_recipe("fsdd", ["digit", "speaker", "accent", "gender", "split", "group"], about=__doc__)
def fsdd_rows(root: Path):
    files = audio_files(root, "recordings/*")
    speakers = _speakers(root) if files else {}
    for path in files:
        m = NAME.match(path.stem)
        if not m:
            raise bad_name(path, "FSDD", "D_SPEAKER_I, e.g. 7_jackson_32")
        digit, speaker, take = m.groups()
        if speaker not in speakers:
            raise HmtlError(f"{path}: speaker '{speaker}' is not in the speaker table")
        info = speakers[speaker]
        yield {"path": path, "digit": digit, "speaker": speaker,
               "accent": info.get("accent", ""), "gender": info.get("gender", "").lower(),
               "split": _split(int(take)), "group": speaker}
