from pathlib import Path

import numpy as np
import pytest

from hmtl.config import DataConfig, TaskConfig
from hmtl.data.manifest import read_manifest
from hmtl.data.splits import group_split, make_split, stratified_split
from hmtl.errors import HmtlError

TASKS = [TaskConfig("emotion"), TaskConfig("gender", column="sex")]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sub" / "m.csv"
    p.parent.mkdir(exist_ok=True)
    p.write_text(text)
    return p


def test_paths_relative_to_manifest_and_missing_labels(tmp_path):
    m = read_manifest(write(tmp_path, "path,emotion,sex,extra\n"
                                      "a.wav,happy,f,x\nb/c.wav,,m,y\n/abs/d.wav,sad,,z\n"), TASKS)
    assert m.paths[0] == tmp_path / "sub" / "a.wav"
    assert m.paths[1] == tmp_path / "sub" / "b" / "c.wav"
    assert m.paths[2] == Path("/abs/d.wav")
    assert m.labels["emotion"] == ["happy", None, "sad"]
    assert m.encoded("emotion").tolist() == [0, -1, 1]
    assert m.encoded("gender").tolist() == [0, 1, -1]
    assert m.rows == [2, 3, 4]


def test_home_paths_expand_and_an_unknown_user_stays_a_literal_name(tmp_path, monkeypatch):
    """As in a shell; found by the manifest fuzz test (pathlib raised RuntimeError on '~0')."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    m = read_manifest(write(tmp_path, "path,emotion,sex\n~/a.wav,happy,f\n"
                                      "~nosuchuser0/b.wav,sad,m\n"), TASKS)
    assert m.paths[0] == tmp_path / "home" / "a.wav"
    assert m.paths[1] == tmp_path / "sub" / "~nosuchuser0" / "b.wav"


def test_numeric_classes_sort_numerically(tmp_path):
    m = read_manifest(write(tmp_path, "path,emotion,sex\n" + "".join(
        f"{i}.wav,{i % 12},{'mf'[i % 2]}\n" for i in range(24))), TASKS)
    assert m.classes["emotion"][:3] == ["0", "1", "2"] and m.classes["emotion"][-1] == "11"


@pytest.mark.parametrize("text, message", [
    ("file,emotion,sex\na.wav,x,y\n", "no 'path' column"),
    ("path,emotion\na.wav,x\n", "task 'gender' needs column 'sex'"),
    ("path,emotion,sex\na.wav,x,m\nb.wav,y,f\na.wav,y,f\n", "row 4: duplicate of row 2"),
    ("path,emotion,sex\na.wav,x,m\nb.wav,x,f\n", "task 'emotion' (column 'emotion') has 1 class"),
    ("path,emotion,sex\na.wav,x,m\n,y,f\n", "row 3: empty path"),
    ("path,emotion,sex\na.wav,x,m\nb.wav,y\n", "row 3: 2 fields, the header has 3"),
    ("path,emotion,sex,split\na.wav,x,m,train\nb.wav,y,f,dev\n", "row 3: split 'dev'"),
    ("", "empty manifest"),
])
def test_bad_manifests_name_the_row_or_column(tmp_path, text, message):
    with pytest.raises(HmtlError) as e:
        read_manifest(write(tmp_path, text), TASKS)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_missing_manifest(tmp_path):
    with pytest.raises(HmtlError, match="manifest not found"):
        read_manifest(tmp_path / "none.csv", TASKS)


def test_stratified_split_keeps_ratios_per_class_and_is_seeded():
    labels = ["a"] * 100 + ["b"] * 40 + [None] * 20
    s = stratified_split(labels, [0.7, 0.15, 0.15], seed=3)
    assert (s == stratified_split(labels, [0.7, 0.15, 0.15], seed=3)).all()
    assert not (s == stratified_split(labels, [0.7, 0.15, 0.15], seed=4)).all()
    a = s[:100]
    assert (a == 0).sum() == 70 and (a == 1).sum() == 15 and (a == 2).sum() == 15
    b = s[100:140]
    assert (b == 1).sum() == 6 and (b == 2).sum() == 6


def test_group_split_is_disjoint_and_near_the_ratios():
    groups = [f"spk{i // 10}" for i in range(300)]
    s = group_split(groups, [0.7, 0.15, 0.15], seed=0)
    by_group = {}
    for g, k in zip(groups, s):
        by_group.setdefault(g, set()).add(int(k))
    assert all(len(v) == 1 for v in by_group.values())
    frac = np.bincount(s, minlength=3) / len(s)
    assert np.allclose(frac, [0.7, 0.15, 0.15], atol=0.05)


def test_manifest_split_column_is_honoured(tmp_path):
    rows = "".join(f"{i}.wav,{'xy'[i % 2]},{'mf'[i % 2]},{['train', 'val', 'test'][i % 3]}\n"
                   for i in range(12))
    m = read_manifest(write(tmp_path, "path,emotion,sex,split\n" + rows), TASKS)
    s = make_split(m, DataConfig(tasks=TASKS))
    assert s.tolist() == [i % 3 for i in range(12)]


def test_group_split_needs_group_column(tmp_path):
    m = read_manifest(write(tmp_path, "path,emotion,sex\n" + "".join(
        f"{i}.wav,{'xy'[i % 2]},m\n" for i in range(12))), TASKS[:1])
    with pytest.raises(HmtlError, match="needs a 'group' column"):
        make_split(m, DataConfig(tasks=TASKS[:1], split_by="group"))


def test_group_split_stratified_by_a_task_puts_every_class_in_every_split():
    groups = [f"spk{i // 10}" for i in range(240)]            # 24 speakers of 10 clips
    gender = ["m" if (i // 10) % 2 else "f" for i in range(240)]
    for seed in range(10):
        s = group_split(groups, [0.7, 0.15, 0.15], seed, strata=gender)
        for k in range(3):
            assert {g for g, x in zip(gender, s) if x == k} == {"m", "f"}, (seed, k)
