"""Importers (folder, audiofolder, lhotse): tiny synthesized corpora in each layout, imported
through the command line, then read back with the manifest reader."""

import csv
import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest

from hmtl.cli.main import main as hmtl
from hmtl.config import TaskConfig
from hmtl.data.manifest import read_manifest
from hmtl.recipes import IMPORTERS
from hmtl.testing import write_wav

RATE, SAMPLES = 8000, 80                        # 10 ms clips
DURATION = SAMPLES / RATE


def clip(path: Path) -> Path:
    """A 10 ms sine: importers read layouts and metadata, the reader only checks the file exists."""
    t = np.arange(SAMPLES) / RATE
    return write_wav(path, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE)


def text(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def jsonl(path: Path, objects: list[dict]) -> Path:
    """JSON lines, gzipped when the name ends in .gz (as lhotse writes them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(o) + "\n" for o in objects)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(data)
    else:
        path.write_text(data)
    return path


def prepare(capsys, *args) -> tuple[int, str, str]:
    """`hmtl prepare ARGS`: exit code, stdout, stderr."""
    code = hmtl(["prepare", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def failure(capsys, *args) -> str:
    """The one-line error of a `hmtl prepare` that must fail."""
    code, _, err = prepare(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("hmtl: error: "), err
    return lines[0]


def table(manifest: Path) -> tuple[list[str], dict[str, dict]]:
    """Header, and rows keyed by path as written."""
    with open(manifest, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, {r["path"]: r for r in reader}


def test_importers_are_listed_with_their_options(capsys):
    assert set(IMPORTERS) == {"folder", "audiofolder", "lhotse"}
    with pytest.raises(SystemExit):
        hmtl(["prepare", "--help"])
    listed = capsys.readouterr().out
    assert all(name in listed for name in IMPORTERS)
    for imp in IMPORTERS.values():
        assert "Layout:" in imp.about and 0 < len(imp.title) < 60, imp.name
    with pytest.raises(SystemExit):
        hmtl(["prepare", "lhotse", "--help"])
    assert "--skip-segments" in capsys.readouterr().out


# ---------------------------------------------------------------- folder

def test_folder_per_class(tmp_path, capsys):
    root = tmp_path / "data"
    for name in ("cat/a.wav", "cat/b.flac", "dog/c.wav", "dog/deeper/d.wav", "bird/e.wav"):
        clip(root / name)
    clip(root / ".cache/x.wav")                               # hidden: skipped
    text(root / "README.txt", "not audio")
    out = tmp_path / "m.csv"
    code, printed, _ = prepare(capsys, "folder", root, "--out", out, "--column", "animal")
    assert code == 0 and "5 clips" in printed
    header, rows = table(out)
    assert header == ["path", "animal"]
    assert {p: r["animal"] for p, r in rows.items()} == {
        "data/bird/e.wav": "bird", "data/cat/a.wav": "cat", "data/cat/b.flac": "cat",
        "data/dog/c.wav": "dog", "data/dog/deeper/d.wav": "dog"}
    m = read_manifest(out, [TaskConfig("animal")])
    assert len(m) == 5 and m.classes["animal"] == ["bird", "cat", "dog"] and m.split is None
    assert all(p.is_file() for p in m.paths)


def test_folder_per_split_and_class(tmp_path, capsys):
    root = tmp_path / "data"
    for name in ("train/yes/a.wav", "train/no/b.wav", "validation/yes/c.wav",
                 "validation/no/d.wav", "test/yes/e.flac", "test/no/f.wav"):
        clip(root / name)
    out = tmp_path / "lists/m.csv"                           # not above the corpus: absolute
    assert prepare(capsys, "folder", root, "--out", out)[0] == 0
    header, rows = table(out)
    assert header == ["path", "label", "split"]
    by_name = {Path(p).name: r for p, r in rows.items()}
    assert all(Path(p).is_absolute() for p in rows)
    assert {n: (r["label"], r["split"]) for n, r in by_name.items()} == {
        "a.wav": ("yes", "train"), "b.wav": ("no", "train"), "c.wav": ("yes", "val"),
        "d.wav": ("no", "val"), "e.flac": ("yes", "test"), "f.wav": ("no", "test")}
    m = read_manifest(out, [TaskConfig("label")])
    assert sorted(m.split) == ["test", "test", "train", "train", "val", "val"]


def test_folder_without_val_says_a_run_needs_it(tmp_path, capsys):
    for name in ("train/yes/a.wav", "train/no/b.wav", "test/yes/c.wav"):
        clip(tmp_path / "d" / name)
    code, printed, _ = prepare(capsys, "folder", tmp_path / "d", "--out", tmp_path / "m.csv")
    assert code == 0 and "note: no val clips: a run needs train, val and test" in printed


@pytest.mark.parametrize("files, message", [
    ([], r"no class folders with audio files found; expected ROOT/CLASS/\*\.wav"),
    (["notes/a.txt"], "no class folders with audio files found"),
    (["cat/a.wav", "loose.wav"], r"loose\.wav: not in a class folder"),
    (["train/cat/a.wav", "cat/b.wav"], "train look like split folders but cat do not"),
    (["train/a.wav"], r"train/a\.wav: not in a class folder"),
])
def test_folder_layout_errors(tmp_path, capsys, files, message):
    root = tmp_path / "data"
    root.mkdir()
    for name in files:
        if name.endswith(".txt"):
            text(root / name, "x")
        else:
            clip(root / name)
    assert re.search(message, failure(capsys, "folder", root, "--out", tmp_path / "m.csv"))


def test_folder_bad_source_and_column(tmp_path, capsys):
    assert "not found" in failure(capsys, "folder", tmp_path / "nowhere", "--out", "m.csv")
    clip(tmp_path / "d/cat/a.wav")
    assert "--column 'split'" in failure(capsys, "folder", tmp_path / "d", "--out",
                                         tmp_path / "m.csv", "--column", "split")


# ---------------------------------------------------------------- audiofolder

def build_audiofolder(root: Path) -> None:
    """Per-split metadata, as `datasets` documents it: CSV for train and test, JSONL for
    validation (with a number, a boolean and a label only some rows have)."""
    for name in ("train/a.wav", "train/sub/b.wav", "train/c.flac", "validation/d.wav",
                 "validation/e.wav", "test/f.wav", "test/g.wav", "test/unlisted.wav"):
        clip(root / name)
    text(root / "train/metadata.csv", "file_name,emotion,speaker\n"
                                      "a.wav,happy,s1\nsub/b.wav,sad,s2\nc.flac,happy,s3\n")
    jsonl(root / "validation/metadata.jsonl", [
        {"file_name": "d.wav", "emotion": "sad", "speaker": "s4", "age": 31, "native": True},
        {"file_name": "e.wav", "emotion": "happy", "speaker": "s5"}])
    text(root / "test/metadata.csv", "file_name,emotion,speaker\nf.wav,sad,s6\ng.wav,,s7\n")


def test_audiofolder_per_split_metadata(tmp_path, capsys):
    build_audiofolder(tmp_path / "hf")
    out = tmp_path / "m.csv"
    code, printed, _ = prepare(capsys, "audiofolder", tmp_path / "hf", "--out", out,
                               "--group", "speaker")
    assert code == 0 and "7 clips" in printed
    assert "note: 1 audio file(s)" in printed and "unlisted.wav" in printed
    header, rows = table(out)
    assert header == ["path", "emotion", "speaker", "age", "native", "split", "group"]
    assert rows["hf/train/sub/b.wav"] == {"path": "hf/train/sub/b.wav", "emotion": "sad",
                                          "speaker": "s2", "age": "", "native": "",
                                          "split": "train", "group": "s2"}
    assert rows["hf/validation/d.wav"]["age"] == "31"
    assert rows["hf/validation/d.wav"]["native"] == "true"
    assert rows["hf/validation/d.wav"]["split"] == "val"
    assert rows["hf/test/g.wav"]["emotion"] == "" and rows["hf/test/g.wav"]["split"] == "test"
    m = read_manifest(out, [TaskConfig("emotion"), TaskConfig("speaker")])
    assert m.labels["emotion"].count(None) == 1 and len(set(m.group)) == 7
    assert m.split.count("val") == 2


def test_audiofolder_root_metadata_and_columns(tmp_path, capsys):
    root = tmp_path / "hf"
    for name in ("train/a.wav", "train/b.wav", "test/c.wav"):
        clip(root / name)
    text(root / "metadata.csv", "file_name,word,transcript\n"
                                "train/a.wav,yes,\"yes, please\"\ntrain/b.wav,no,no\n"
                                "test/c.wav,yes,yes\n")
    out = tmp_path / "m.csv"
    assert prepare(capsys, "audiofolder", root, "--out", out, "--columns", "word")[0] == 0
    header, rows = table(out)
    assert header == ["path", "word", "split"]
    assert rows["hf/train/a.wav"]["split"] == "train" and rows["hf/test/c.wav"]["split"] == "test"


@pytest.mark.parametrize("setup, message", [
    (lambda r: clip(r / "cat/a.wav"),
     ("no metadata.csv or metadata.jsonl found; expected ROOT/metadata.csv (or .jsonl) with a "
     "file_name column")),
    (lambda r: text(r / "metadata.parquet", "PAR1"), "metadata.parquet is not read"),
    (lambda r: text(r / "metadata.csv", "file,label\na.wav,x\n"), "row 2: no file_name"),
    (lambda r: text(r / "metadata.csv", "file_name,label\nmissing.wav,x\n"),
     "row 2: audio file missing.wav not found"),
    (lambda r: (text(r / "metadata.csv", "file_name\n"), jsonl(r / "metadata.jsonl", [])),
     "holds both metadata.csv and metadata.jsonl"),
    (lambda r: (clip(r / "a.wav"), jsonl(r / "metadata.jsonl",
                                         [{"file_name": "a.wav", "tags": ["x", "y"]}])),
     "line 1: column 'tags' holds a list, not one label"),
    (lambda r: (clip(r / "a.wav"), text(r / "metadata.csv", "file_name,split\na.wav,holdout\n")),
     "row 2: split 'holdout' is not one of train, validation (val), test"),
    (lambda r: (clip(r / "train/a.wav"),
                text(r / "metadata.csv", "file_name,split\ntrain/a.wav,test\n")),
     "row 2: split 'test', but train/a.wav lies in the train folder"),
])
def test_audiofolder_errors(tmp_path, capsys, setup, message):
    root = tmp_path / "hf"
    root.mkdir()
    setup(root)
    assert message in failure(capsys, "audiofolder", root, "--out", tmp_path / "m.csv")


def test_audiofolder_bad_options(tmp_path, capsys):
    clip(tmp_path / "hf/a.wav")
    text(tmp_path / "hf/metadata.csv", "file_name,label\na.wav,x\n")
    assert "--columns: no column nope (columns: label)" in failure(
        capsys, "audiofolder", tmp_path / "hf", "--out", tmp_path / "m.csv", "--columns", "nope")
    assert "--group nope: no such column (columns: label)" in failure(
        capsys, "audiofolder", tmp_path / "hf", "--out", tmp_path / "m.csv", "--group", "nope")


# ---------------------------------------------------------------- lhotse

def recording(rid: str, source: str, duration: float = DURATION, kind: str = "file") -> dict:
    return {"id": rid, "sources": [{"type": kind, "channels": [0], "source": source}],
            "sampling_rate": RATE, "num_samples": round(duration * RATE), "duration": duration,
            "channel_ids": [0]}


def supervision(sid: str, rid: str, speaker: str, start: float = 0.0,
                duration: float = DURATION, **custom) -> dict:
    sup = {"id": sid, "recording_id": rid, "start": start, "duration": duration, "channel": 0,
           "text": "hello", "language": "English", "speaker": speaker}
    if custom:
        sup["custom"] = custom
    return sup


def build_lhotse(root: Path, ext: str = ".jsonl.gz") -> None:
    """Four recordings, paths relative to `root` as lhotse writes them; r4 has no supervision."""
    for i in range(1, 5):
        clip(root / f"audio/r{i}.wav")
    jsonl(root / f"recordings{ext}", [recording(f"r{i}", f"audio/r{i}.wav") for i in range(1, 5)])
    jsonl(root / f"supervisions{ext}", [
        supervision("s1", "r1", "spk1", emotion="happy"),
        {**supervision("s2", "r2", "spk2", emotion="sad"), "gender": "F"},
        supervision("s3", "r3", "spk1")])


def test_lhotse_recordings_and_supervisions_gzipped(tmp_path, capsys):
    build_lhotse(tmp_path / "lh")
    out = tmp_path / "m.csv"
    code, printed, _ = prepare(capsys, "lhotse", tmp_path / "lh", "--out", out)
    assert code == 0 and "3 clips" in printed
    assert "note: 1 recording(s) or cut(s) without a supervision were left out" in printed
    header, rows = table(out)
    assert header == ["path", "text", "speaker", "gender", "language", "emotion", "group"]
    assert rows["lh/audio/r2.wav"] == {"path": "lh/audio/r2.wav", "text": "hello",
                                       "speaker": "spk2", "gender": "F", "language": "English",
                                       "emotion": "sad", "group": "spk2"}
    assert rows["lh/audio/r3.wav"]["emotion"] == "" and rows["lh/audio/r3.wav"]["gender"] == ""
    m = read_manifest(out, [TaskConfig("speaker"), TaskConfig("emotion")])
    assert m.group == ["spk1", "spk2", "spk1"] and m.labels["emotion"][2] is None


def test_lhotse_cuts_plain_jsonl(tmp_path, capsys):
    root = tmp_path / "lh"
    for i in (1, 2):
        clip(root / f"wav/c{i}.wav")
    jsonl(root / "cuts.jsonl", [
        {"id": f"c{i}", "start": 0.0, "duration": DURATION, "channel": 0, "type": "MonoCut",
         "recording": recording(f"c{i}", str(root / f"wav/c{i}.wav")),      # absolute source
         "supervisions": [supervision(f"s{i}", f"c{i}", f"spk{i}", keyword=["up", "down"][i - 1])],
         "custom": {"round": i}}
        for i in (1, 2)])
    out = tmp_path / "m.csv"
    assert prepare(capsys, "lhotse", root / "cuts.jsonl", "--out", out, "--group", "keyword",
                   "--columns", "speaker,keyword,round")[0] == 0
    header, rows = table(out)
    assert header == ["path", "speaker", "keyword", "round", "group"]
    assert rows["lh/wav/c2.wav"] == {"path": "lh/wav/c2.wav", "speaker": "spk2",
                                     "keyword": "down", "round": "2", "group": "down"}
    read_manifest(out, [TaskConfig("keyword"), TaskConfig("speaker")])


def test_lhotse_parts_named_by_split(tmp_path, capsys):
    root = tmp_path / "manifests"
    for part, split in (("train-clean-5", "train"), ("dev-clean-2", "val"), ("test", "test")):
        clip(root / f"{part}.wav")
        jsonl(root / f"mini_recordings_{part}.jsonl.gz", [recording(part, f"{part}.wav")])
        jsonl(root / f"mini_supervisions_{part}.jsonl.gz", [supervision(part, part, split)])
    out = tmp_path / "m.csv"
    assert prepare(capsys, "lhotse", root, "--out", out)[0] == 0
    _, rows = table(out)
    assert {Path(p).stem: (r["split"], r["speaker"]) for p, r in rows.items()} == {
        "train-clean-5": ("train", "train"), "dev-clean-2": ("val", "val"),
        "test": ("test", "test")}
    # one file of a pair as SOURCE finds its sibling, and a single part writes no split
    out2 = tmp_path / "one.csv"
    assert prepare(capsys, "lhotse", root / "mini_supervisions_test.jsonl.gz", "--out", out2,
                   "--audio-root", root)[0] == 0
    header, rows = table(out2)
    assert "split" not in header and len(rows) == 1


def test_lhotse_segments_are_an_error_or_skipped(tmp_path, capsys):
    root = tmp_path / "lh"
    build_lhotse(root, ext=".jsonl")
    jsonl(root / "supervisions.jsonl", [
        supervision("s1", "r1", "spk1"),
        supervision("s2a", "r2", "spk2", duration=DURATION / 2),
        supervision("s2b", "r2", "spk2", start=DURATION / 2, duration=DURATION / 2),
        supervision("s3", "r3", "spk3")])
    error = failure(capsys, "lhotse", root, "--out", tmp_path / "m.csv")
    assert ("supervisions.jsonl: line 2: supervision 's2a' of recording 'r2' covers "
            "0.000-0.005 s of a 0.010 s recording") in error
    assert "2 of 4 supervisions cannot be imported" in error and "--skip-segments" in error
    code, printed, _ = prepare(capsys, "lhotse", root, "--out", tmp_path / "m.csv",
                               "--skip-segments")
    assert code == 0 and "2 clips" in printed
    assert "note: 2 of 4 supervisions cover only part of their recording" in printed
    assert set(table(tmp_path / "m.csv")[1]) == {"lh/audio/r1.wav", "lh/audio/r3.wav"}


def test_lhotse_a_cut_of_part_of_a_recording_is_a_segment(tmp_path, capsys):
    clip(tmp_path / "a.wav")
    jsonl(tmp_path / "cuts.jsonl.gz", [
        {"id": "c", "start": 0.004, "duration": 0.006, "channel": 0, "type": "MonoCut",
         "recording": recording("a", "a.wav"),
         "supervisions": [supervision("s", "a", "spk", duration=0.006)]}])
    error = failure(capsys, "lhotse", tmp_path, "--out", tmp_path / "m.csv")
    assert "line 1: supervision 's' of cut 'c' covers 0.004-0.010 s of a 0.010 s recording" in error
    error = failure(capsys, "lhotse", tmp_path, "--out", tmp_path / "m.csv", "--skip-segments")
    assert "all 1 supervisions cover only part of their recording" in error


@pytest.mark.parametrize("setup, message", [
    (lambda r: clip(r / "a.wav"),
     ("no lhotse manifests found; expected recordings.jsonl[.gz] with supervisions.jsonl[.gz], "
     "or cuts.jsonl[.gz]")),
    (lambda r: jsonl(r / "recordings.jsonl", [recording("a", "a.wav")]),
     "recordings.jsonl: no supervisions manifest beside it"),
    (lambda r: (jsonl(r / "recordings.jsonl", [recording("a", "http://x/a.wav", kind="url")]),
                jsonl(r / "supervisions.jsonl", [supervision("s", "a", "k")])),
     "recordings.jsonl: line 1: recording 'a' is read from a 'url' source"),
    (lambda r: (jsonl(r / "recordings.jsonl", [recording("a", "data/a.wav")]),
                jsonl(r / "supervisions.jsonl", [supervision("s", "a", "k")])),
     ("recordings.jsonl: line 1: audio file data/a.wav not found (a relative path is read from "
     "--audio-root")),
    (lambda r: (jsonl(r / "recordings.jsonl", [recording("a", "a.wav")]),
                jsonl(r / "supervisions.jsonl", [supervision("s", "b", "k")])),
     "supervisions.jsonl: line 1: recording 'b' is not in recordings.jsonl"),
    (lambda r: jsonl(r / "cuts.jsonl", [{"id": "m", "type": "MixedCut", "tracks": []}]),
     "cuts.jsonl: line 1: a MixedCut without a recording"),
    (lambda r: (clip(r / "a.wav"), jsonl(r / "recordings.jsonl", [recording("a", "a.wav")]),
                jsonl(r / "supervisions.jsonl", [supervision("s", "a", "k"),
                                                 supervision("t", "a", "k")])),
     "supervisions.jsonl: line 2: " + "{}/a.wav is already listed"),
    (lambda r: text(r / "cuts.jsonl.gz", "not gzip"), "cuts.jsonl.gz: not readable"),
    (lambda r: text(r / "cuts.jsonl", "\n[1]\n"), "cuts.jsonl: line 2: not a JSON object"),
])
def test_lhotse_errors(tmp_path, capsys, setup, message):
    setup(tmp_path)
    message = message.replace("{}", str(tmp_path.resolve()))
    assert message in failure(capsys, "lhotse", tmp_path, "--out", tmp_path / "m.csv")
