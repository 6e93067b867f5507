"""Corpus recipes and manifest merge: tiny synthesized corpora in each corpus' real naming, then
the real copies in ../shared/data when present (skipped otherwise)."""

import csv
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_corpus
from hmtl.cli.main import main as hmtl
from hmtl.config import TaskConfig
from hmtl.data.manifest import read_manifest
from hmtl.errors import HmtlError
from hmtl.recipes import RECIPES, merge_manifests, write_manifest
from hmtl.testing import write_wav


def clip(path: Path) -> Path:
    """A few hundred samples: recipes read names and metadata, never the audio itself."""
    return write_wav(path, np.full(300, 0.01, dtype=np.float32), 8000)


def text(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def rows(manifest: Path) -> tuple[list[str], dict[str, dict]]:
    """Header, and rows keyed by file name."""
    with open(manifest, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, {Path(r["path"]).name: r for r in reader}


# One builder per recipe: writes the corpus under `root` in its published layout and returns
# (tasks read_manifest must load, {file name: expected cells}). Mixed .wav/.flac on purpose.

def build_ravdess(root):
    clip(root / "Actor_01/03-01-05-02-01-01-01.wav")
    clip(root / "Actor_02/03-01-01-01-02-02-02.flac")
    return ["emotion", "gender"], {
        "03-01-05-02-01-01-01.wav": {"emotion": "angry", "intensity": "strong", "gender": "male",
                                     "group": "actor01"},
        "03-01-01-01-02-02-02.flac": {"emotion": "neutral", "statement": "dogs",
                                      "gender": "female"}}


def build_fsdd(root, table=True):
    if table:
        text(root / "speakers.csv", "speaker,gender,accent,language\n"
                                    "george,male,GRC/Greek,english\n"
                                    "jackson,male,USA/neutral,english\n")
    for speaker in ("george", "jackson"):
        for digit in (0, 1):
            for take, ext in ((0, "wav"), (5, "flac"), (12, "wav")):
                clip(root / f"recordings/{digit}_{speaker}_{take}.{ext}")
    return ["digit", "accent"], {
        "0_george_0.wav": {"digit": "0", "speaker": "george", "accent": "GRC/Greek",
                           "gender": "male", "split": "test", "group": "george"},
        "1_jackson_5.flac": {"digit": "1", "accent": "USA/neutral", "split": "val"},
        "1_jackson_12.wav": {"split": "train"}}


def build_audiomnist_az(root):
    # The real table: unpadded ids, CRLF line ends, take counts that are not read.
    text(root / "metadata.txt", b"SPK ID,0,1,2,3,4,5,6,7,8,9,Gender\r\n"
                                b"1,5,5,5,4,5,5,4,5,5,5,M\r\n4,5,6,6,6,6,6,6,4,5,5,F")
    clip(root / "data/01/0_01_1.flac")
    clip(root / "data/01/7_01_2.flac")
    clip(root / "data/04/3_04_14.wav")
    return ["digit", "gender"], {
        "7_01_2.flac": {"digit": "7", "speaker": "az01", "gender": "male", "group": "az01"},
        "3_04_14.wav": {"digit": "3", "speaker": "az04", "gender": "female"}}


def build_audiomnist(root):
    text(root / "data/audioMNIST_meta.txt",
         '{"01": {"accent": "german", "age": "30", "gender": "male", "native speaker": "no",'
         ' "origin": "Europe, Germany, Wuerzburg", "recordingdate": "17-06-22-11-04-28",'
         ' "recordingroom": "Kino"},\n "02": {"accent": "German", "age": "25",'
         ' "gender": "Female", "native speaker": "yes"}}')
    clip(root / "data/01/0_01_0.wav")
    clip(root / "data/02/5_02_49.flac")
    return ["digit", "gender"], {
        "0_01_0.wav": {"digit": "0", "speaker": "am01", "gender": "male", "age": "30",
                       "accent": "german", "group": "am01"},
        "5_02_49.flac": {"digit": "5", "speaker": "am02", "gender": "female", "age": "25",
                         "accent": "german"}}


def build_emodb(root):
    for name in ("03a01Fa.wav", "08b10Wb.wav", "16a02Nc.flac", "10a04La.wav"):
        clip(root / "wav" / name)
    return ["emotion", "gender"], {
        "03a01Fa.wav": {"emotion": "happy", "speaker": "emodb03", "gender": "male", "age": "31",
                        "text": "a01", "group": "emodb03"},
        "08b10Wb.wav": {"emotion": "angry", "gender": "female", "age": "34", "text": "b10"},
        "16a02Nc.flac": {"emotion": "neutral", "speaker": "emodb16", "gender": "female"},
        "10a04La.wav": {"emotion": "bored"}}


def build_savee(root):
    for name in ("DC/a01.wav", "JE/sa02.wav", "KL/su15.flac", "JK/n01.wav"):
        clip(root / "AudioData" / name)
    return ["emotion", "speaker"], {
        "a01.wav": {"emotion": "angry", "speaker": "DC", "group": "DC"},
        "sa02.wav": {"emotion": "sad", "speaker": "JE"},
        "su15.flac": {"emotion": "surprised", "speaker": "KL"}}


def build_crema_d(root):
    text(root / "VideoDemographics.csv",
         "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
         "1002,21,Female,Caucasian,Not Hispanic\n")
    for name in ("1001_DFA_ANG_XX.wav", "1002_IEO_HAP_HI.flac", "1002_TIE_SAD_LO.wav",
                 "1001_IEO_NEU_MD.wav"):
        clip(root / "AudioWAV" / name)
    return ["emotion", "intensity", "gender"], {
        "1001_DFA_ANG_XX.wav": {"emotion": "angry", "intensity": "", "sentence": "DFA",
                                "speaker": "cremad1001", "gender": "male", "age": "51",
                                "group": "cremad1001"},
        "1002_IEO_HAP_HI.flac": {"emotion": "happy", "intensity": "high", "gender": "female",
                                 "age": "21"},
        "1002_TIE_SAD_LO.wav": {"emotion": "sad", "intensity": "low"}}


def build_speech_commands(root):
    for name in ("yes/0a7c2a8d_nohash_0.wav", "yes/0a7c2a8d_nohash_1.wav",
                 "no/bb05582b_nohash_3.wav", "no/c1d39ce8_nohash_0.flac",
                 "_background_noise_/white_noise.wav"):
        clip(root / name)
    (root / "validation_list.txt").write_text("no/bb05582b_nohash_3.wav\n")
    # A copy converted to FLAC keeps the official lists, which name .wav files.
    (root / "testing_list.txt").write_text("yes/0a7c2a8d_nohash_1.wav\nno/c1d39ce8_nohash_0.wav\n")
    return ["word"], {
        "0a7c2a8d_nohash_0.wav": {"word": "yes", "speaker": "0a7c2a8d", "split": "train",
                                  "group": "0a7c2a8d"},
        "0a7c2a8d_nohash_1.wav": {"split": "test"},
        "bb05582b_nohash_3.wav": {"word": "no", "split": "val"},
        "c1d39ce8_nohash_0.flac": {"split": "test"}}


def build_arabic_sc(root, lists=True):
    names = ["zero/00000001_NO_01.wav", "zero/00000002_NO_10.flac", "nine/00000001_NO_02.wav",
             "ready/00000030_NO_05.wav"]                       # any keyword folder, not only digits
    for name in names:
        clip(root / "dataset" / name)
    if lists:
        text(root / "train.csv", "file,class\ndataset/zero/00000001_NO_01.wav,zero\n"
                                 "dataset/nine/00000001_NO_02.wav,nine\n")
        text(root / "val.csv", "file,class\ndataset/zero/00000002_NO_10.wav,zero\n")
        text(root / "test.csv", "file,class\ndataset/ready/00000030_NO_05.wav,ready\n")
    return ["keyword", "speaker"], {
        "00000001_NO_01.wav": {"keyword": "zero", "digit": "0", "speaker": "ar01", "round": "1",
                               "group": "ar01"},
        "00000002_NO_10.flac": {"keyword": "zero", "speaker": "ar02", "round": "10"},
        "00000030_NO_05.wav": {"keyword": "ready", "digit": "", "speaker": "ar30"}}


BUILDERS = {"ravdess": build_ravdess, "fsdd": build_fsdd, "audiomnist-az": build_audiomnist_az,
            "audiomnist": build_audiomnist, "emodb": build_emodb, "savee": build_savee,
            "crema-d": build_crema_d, "speech-commands": build_speech_commands,
            "arabic-sc": build_arabic_sc}
BAD_NAMES = {"ravdess": "Actor_01/03-01-05.wav", "fsdd": "recordings/seven_jackson_3.wav",
             "audiomnist-az": "data/01/0-01-1.wav", "audiomnist": "data/01/zero_01_0.wav",
             "emodb": "wav/03a01Xa.wav", "savee": "AudioData/DC/x01.wav",
             "crema-d": "AudioWAV/1001_DFA_ANG.wav", "speech-commands": "yes/noise.wav",
             "arabic-sc": "dataset/zero/7_NO_1.wav"}
METADATA = {"fsdd": "speakers.csv", "audiomnist-az": "metadata.txt",
            "audiomnist": "data/audioMNIST_meta.txt", "crema-d": "VideoDemographics.csv",
            "speech-commands": "testing_list.txt"}


def test_every_recipe_is_tested_and_documented():
    assert set(RECIPES) == set(BUILDERS) == set(BAD_NAMES)
    for recipe in RECIPES.values():
        assert "Download" in recipe.about and "Licence" in recipe.about, recipe.name
        assert 0 < len(recipe.title) < 60, recipe.title


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_recipe_writes_a_loadable_manifest(tmp_path, name):
    tasks, expected = BUILDERS[name](tmp_path / "corpus")
    out, n = write_manifest(name, tmp_path / "corpus", tmp_path / "manifest.csv")
    header, table = rows(out)
    assert header == ["path", *RECIPES[name].columns]
    audio = [p for p in (tmp_path / "corpus").rglob("*") if p.suffix in (".wav", ".flac")]
    assert n == len(table) == len([p for p in audio if "_background_noise_" not in p.parts])
    for file, cells in expected.items():
        assert {k: table[file][k] for k in cells} == cells, file
    m = read_manifest(out, [TaskConfig(t) for t in tasks])
    assert all(p.is_file() for p in m.paths)      # relative paths: the corpus is below
    assert not Path(next(iter(table.values()))["path"]).is_absolute()


@pytest.mark.parametrize("name", sorted(BAD_NAMES))
def test_a_bad_file_name_is_one_error_naming_the_file(tmp_path, name):
    BUILDERS[name](tmp_path)
    clip(tmp_path / BAD_NAMES[name])
    with pytest.raises(HmtlError, match=Path(BAD_NAMES[name]).name.replace(".", r"\.")):
        write_manifest(name, tmp_path, tmp_path / "m.csv")


@pytest.mark.parametrize("name", sorted(METADATA))
def test_missing_metadata_is_an_error_naming_it(tmp_path, name):
    BUILDERS[name](tmp_path)
    (tmp_path / METADATA[name]).unlink()
    with pytest.raises(HmtlError, match=Path(METADATA[name]).name):
        write_manifest(name, tmp_path, tmp_path / "m.csv")


def test_arabic_sc_writes_the_corpus_split_only_on_request(tmp_path):
    build_arabic_sc(tmp_path / "c")
    header, _ = rows(write_manifest("arabic-sc", tmp_path / "c", tmp_path / "plain.csv")[0])
    assert "split" not in header
    _, table = rows(write_manifest("arabic-sc", tmp_path / "c", tmp_path / "split.csv",
                                   corpus_split=True)[0])
    assert {f: r["split"] for f, r in table.items()} == {
        "00000001_NO_01.wav": "train", "00000001_NO_02.wav": "train",
        "00000002_NO_10.flac": "val", "00000030_NO_05.wav": "test"}   # listed as .wav, stored .flac
    (tmp_path / "c" / "val.csv").unlink()
    with pytest.raises(HmtlError, match="val.csv"):
        write_manifest("arabic-sc", tmp_path / "c", tmp_path / "m.csv", corpus_split=True)
    with pytest.raises(HmtlError, match="ravdess has no published split"):
        write_manifest("ravdess", tmp_path / "c", tmp_path / "m.csv", corpus_split=True)


def test_a_recipe_pointed_at_the_wrong_folder_names_the_layout_it_expects(tmp_path):
    build_emodb(tmp_path / "emodb")
    with pytest.raises(HmtlError, match=r"no emodb audio files found \(expected wav/SSTTTEv"):
        write_manifest("emodb", tmp_path / "emodb" / "wav", tmp_path / "m.csv")
    assert all(r.layout for r in RECIPES.values())


def test_fsdd_reads_the_repositorys_metadata_py(tmp_path):
    build_fsdd(tmp_path, table=False)
    (tmp_path / "metadata.py").write_text(
        '"""Speakers."""\nmetadata = {\n  "george": {"gender": "male", "accent": "GRC/Greek"},\n'
        '  "jackson": {"gender": "male", "accent": "USA/neutral"},\n}\n')
    _, table = rows(write_manifest("fsdd", tmp_path, tmp_path / "m.csv")[0])
    assert table["0_george_5.flac"]["accent"] == "GRC/Greek"


def test_savee_flat_layout_and_unknown_speaker(tmp_path):
    for name in ("DC_a01.wav", "JE_sa02.flac", "KL_su15.wav"):
        clip(tmp_path / name)
    _, table = rows(write_manifest("savee", tmp_path, tmp_path / "m.csv")[0])
    assert table["JE_sa02.flac"] == {"path": "JE_sa02.flac", "emotion": "sad", "speaker": "JE",
                                     "group": "JE"}
    clip(tmp_path / "XX_a01.wav")
    with pytest.raises(HmtlError, match="XX_a01.wav: speaker 'XX'"):
        write_manifest("savee", tmp_path, tmp_path / "m.csv")


def test_emodb_unknown_speaker(tmp_path):
    clip(tmp_path / "wav/05a01Fa.wav")
    with pytest.raises(HmtlError, match="05a01Fa.wav: speaker 05"):
        write_manifest("emodb", tmp_path, tmp_path / "m.csv")


# ---------------------------------------------------------------- merge

@pytest.fixture
def digits(tmp_path):
    """FSDD-like and AudioMNIST_AZ-like manifests: the first beside its corpus (relative
    paths), the second in another folder (absolute paths)."""
    build_fsdd(tmp_path / "data/fsdd")
    build_audiomnist_az(tmp_path / "data/az")
    a, _ = write_manifest("fsdd", tmp_path / "data/fsdd", tmp_path / "data/fsdd.csv")
    b, _ = write_manifest("audiomnist-az", tmp_path / "data/az", tmp_path / "lists/az.csv")
    return a, b


@pytest.mark.parametrize("out", ["merged.csv", "elsewhere/deep/merged.csv"])
def test_merge_two_language_digits(tmp_path, digits, out):
    out, n = merge_manifests(digits, tmp_path / out, add={"language": ["en", "az"]},
                             fill=[(0, "gender", "male")], drop=["split"])
    assert n == 12 + 3
    header, table = rows(out)
    assert header == ["path", "digit", "speaker", "accent", "gender", "group", "language"]
    assert table["1_jackson_5.flac"] == {
        "path": table["1_jackson_5.flac"]["path"], "digit": "1", "speaker": "jackson",
        "accent": "USA/neutral", "gender": "male", "group": "jackson", "language": "en"}
    assert table["3_04_14.wav"]["accent"] == "" and table["3_04_14.wav"]["language"] == "az"
    assert table["3_04_14.wav"]["gender"] == "female"       # filled only for input 1
    m = read_manifest(out, [TaskConfig(t) for t in ("digit", "language", "gender", "accent")])
    assert all(p.is_file() for p in m.paths)
    assert sum(a is None for a in m.labels["accent"]) == 3
    relative = out.parent == tmp_path                       # corpora below the new manifest
    assert all(Path(r["path"]).is_absolute() != relative for r in table.values())


def test_merge_fill_without_index_and_missing_column(tmp_path, digits):
    out, _ = merge_manifests(digits, tmp_path / "m.csv", fill=[(None, "accent", "unknown"),
                                                              (1, "split", "train")])
    _, table = rows(out)
    assert table["3_04_14.wav"]["accent"] == "unknown" and table["3_04_14.wav"]["split"] == "train"
    assert table["0_george_0.wav"]["accent"] == "GRC/Greek"
    assert table["0_george_0.wav"]["split"] == "test"


@pytest.mark.parametrize("kwargs, message", [
    ({}, r"az.csv: row 2: no split, but other inputs have one; .*--fill 2:split=train"),
    ({"add": {"language": ["en"]}, "drop": ["split"]}, "language: 1 value.* for 2 inputs"),
    ({"add": {"gender": ["m", "f"]}, "drop": ["split"]}, "gender: an input already has"),
    ({"fill": [(2, "gender", "male")]}, "only 2 input"),
    ({"drop": ["nope"]}, "--drop nope: no input has"),
])
def test_merge_bad_options(tmp_path, digits, kwargs, message):
    with pytest.raises(HmtlError, match=message):
        merge_manifests(digits, tmp_path / "m.csv", **kwargs)


def test_merge_refuses_a_file_listed_twice(tmp_path, digits):
    # The same clip named two ways: relative in one manifest, absolute in the other.
    again, _ = write_manifest("fsdd", tmp_path / "data/fsdd", tmp_path / "other/fsdd.csv")
    with pytest.raises(HmtlError, match=r"other/fsdd.csv: row 2: .*0_george_0.wav is already "
                                        r"listed by input 1 \(.*data/fsdd.csv\), row 2"):
        merge_manifests([digits[0], again], tmp_path / "m.csv")


# ---------------------------------------------------------------- command line

def test_cli_prepare_and_merge(tmp_path, digits, capsys):
    assert hmtl(["prepare", "emodb", str(tmp_path / "none"), "--out", "x.csv"]) == 2
    assert "corpus folder not found" in capsys.readouterr().err
    build_emodb(tmp_path / "emodb")
    assert hmtl(["prepare", "emodb", str(tmp_path / "emodb"), "--out",
                 str(tmp_path / "emodb.csv")]) == 0
    assert "4 clips" in capsys.readouterr().out
    out = tmp_path / "digits.csv"
    assert hmtl(["prepare", "merge", *map(str, digits), "--out", str(out),
                 "--add-column", "language=en,az", "--fill", "1:gender=male",
                 "--drop", "split"]) == 0
    assert "15 clips" in capsys.readouterr().out
    assert rows(out)[1]["0_george_0.wav"]["gender"] == "male"
    with pytest.raises(SystemExit):
        hmtl(["prepare", "merge", str(digits[0]), "--out", "m.csv", "--fill", "0:a=b"])
    assert "counting from 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        hmtl(["prepare", "--help"])
    listed = capsys.readouterr().out
    assert all(name in listed for name in [*RECIPES, "merge"])


# ---------------------------------------------------------------- the real corpora

@pytest.mark.corpus
@pytest.mark.parametrize("name, folder, clips, tasks", [
    ("fsdd", "fsdd", 3000, ["digit", "speaker", "accent"]),
    ("audiomnist-az", "audiomnist_az", 3082, ["digit", "speaker", "gender"]),
    ("ravdess", "ravdess", 1440, ["emotion", "intensity", "statement", "actor", "gender"]),
    ("arabic-sc", "arabic_sc", 3000, ["keyword", "speaker", "round"]),
])
def test_real_corpus(tmp_path, name, folder, clips, tasks):
    out, n = write_manifest(name, shared_corpus(folder), tmp_path / "m.csv")
    m = read_manifest(out, [TaskConfig(t) for t in tasks])
    assert n == len(m) == clips
    assert all(p.is_file() for p in m.paths[::97])
    if name == "fsdd":
        assert m.classes["speaker"] == sorted(["george", "jackson", "lucas", "nicolas", "theo",
                                               "yweweler"])
        assert [m.split.count(s) for s in ("train", "val", "test")] == [2400, 300, 300]
    if name == "audiomnist-az":
        assert len(m.classes["speaker"]) == 59 and m.classes["gender"] == ["female", "male"]
    if name == "ravdess":
        assert len(m.classes["actor"]) == 24 and len(m.classes["emotion"]) == 8
    if name == "arabic-sc":
        assert len(m.classes["speaker"]) == 30 and len(m.classes["keyword"]) == 10
        assert len(m.classes["round"]) == 10 and not m.split
        split = write_manifest(name, shared_corpus(folder), tmp_path / "s.csv", corpus_split=True)[0]
        s = read_manifest(split, [TaskConfig("keyword")])
        by = {sp: {g for g, x in zip(s.group, s.split) if x == sp} for sp in ("train", "val", "test")}
        assert [len(by[sp]) for sp in ("train", "val", "test")] == [18, 6, 6]   # speakers
        assert not (by["train"] & by["test"]) and not (by["val"] & by["test"])


@pytest.mark.corpus
def test_real_two_language_digits(tmp_path):
    fsdd, az = shared_corpus("fsdd"), shared_corpus("audiomnist_az")
    a, _ = write_manifest("fsdd", fsdd, tmp_path / "fsdd.csv")
    b, _ = write_manifest("audiomnist-az", az, tmp_path / "az.csv")
    out, n = merge_manifests([a, b], tmp_path / "out/digits.csv", add={"language": ["en", "az"]},
                             fill=[(0, "gender", "male")], drop=["split"])
    m = read_manifest(out, [TaskConfig(t) for t in ("digit", "language", "gender", "accent")])
    assert n == len(m) == 6082 and len(m.classes["digit"]) == 10
    assert None not in m.labels["gender"]
    assert sum(v is None for v in m.labels["accent"]) == 3082
    assert len(set(m.group)) == 6 + 59


@pytest.mark.corpus
def test_real_three_language_digits_as_configs_digits3_says(tmp_path):
    a, _ = write_manifest("fsdd", shared_corpus("fsdd"), tmp_path / "fsdd.csv")
    b, _ = write_manifest("audiomnist-az", shared_corpus("audiomnist_az"), tmp_path / "az.csv")
    c, _ = write_manifest("arabic-sc", shared_corpus("arabic_sc"), tmp_path / "ar.csv")
    out, n = merge_manifests([a, b, c], tmp_path / "digits3.csv",
                             add={"language": ["en", "az", "ar"]}, fill=[],
                             drop=["split", "keyword", "round"])
    m = read_manifest(out, [TaskConfig(t) for t in ("digit", "speaker", "language", "gender",
                                                    "accent")])
    assert n == len(m) == 9082 and len(m.classes["digit"]) == 10
    assert len(m.classes["speaker"]) == 95 and m.classes["language"] == ["ar", "az", "en"]
    assert sum(v is None for v in m.labels["gender"]) == 3000          # Arabic: not published
    assert sum(v is None for v in m.labels["accent"]) == 3082 + 3000    # FSDD only
