import subprocess
import sys
import time

import pytest


def hmtl(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hmtl.cli.main", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_help_is_instant_and_lists_verbs():
    start = time.perf_counter()
    r = hmtl("--help")
    assert r.returncode == 0 and "demo" in r.stdout and "run" in r.stdout
    assert time.perf_counter() - start < 10    # loose bound: torch is not imported for --help
    r = subprocess.run([sys.executable, "-c", "import sys, hmtl.cli.main as m; "
                        "m.build_parser(); print('torch' in sys.modules)"], capture_output=True, text=True)
    assert r.stdout.strip() == "False"


@pytest.mark.parametrize("config, message", [
    ("train: {epochs: 0}\ndata: {tasks: [a], manifest: m.csv}\n", "train.epochs: must be >= 1"),
    ("data: {tasks: [a], manifest: nowhere.csv}\n", "nowhere.csv: manifest not found"),
    ("data: {tasks: [a]\n", "YAML syntax error"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, config, message):
    path = tmp_path / "c.yaml"
    path.write_text(config)
    r = hmtl("run", str(path), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hmtl: error: ") and message in lines[0]


def test_unknown_override_key(tmp_path, corpus):
    path = tmp_path / "c.yaml"
    path.write_text(f"data: {{tasks: [vowel], manifest: {corpus}}}\n")
    r = hmtl("run", str(path), "train.epohcs=3")
    assert r.returncode == 2 and "train.epohcs: unknown key (did you mean 'epochs'?)" in r.stderr


def test_overrides_may_follow_options(tmp_path, corpus):
    path = tmp_path / "c.yaml"
    path.write_text(f"data: {{tasks: [vowel], manifest: {corpus}}}\n")
    r = hmtl("run", str(path), "--out", str(tmp_path / "o"), "train.epohcs=3")
    assert r.returncode == 2 and "train.epohcs: unknown key" in r.stderr
    r = hmtl("run", str(path), "--out", str(tmp_path / "o"), "--bogus")
    assert r.returncode == 2 and "unrecognized arguments: --bogus" in r.stderr
