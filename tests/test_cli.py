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


def test_config_defaults_and_markdown(tmp_path):
    import yaml

    from hmtl.config import RunConfig
    from hmtl.config.loading import from_dict
    from hmtl.config.reference import markdown_reference

    r = hmtl("config", "--defaults")
    assert r.returncode == 0 and "# cpu, cuda, cuda:N or auto" in r.stdout
    assert from_dict(RunConfig, yaml.safe_load(r.stdout), where="") == RunConfig()
    r = hmtl("config", "--markdown")
    assert r.returncode == 0 and r.stdout == markdown_reference()
    for args, message in ((("config",), "give CONFIG.yaml"),
                          (("config", "--defaults", "x.yaml"), "take no CONFIG.yaml")):
        r = hmtl(*args)
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.splitlines()) == 1


def test_config_prints_the_resolved_config(tmp_path):
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text("data: {tasks: [a], manifest: m.csv}\n")
    r = hmtl("config", str(path), "train.epochs=7", "search.seeds=2")
    assert r.returncode == 0, r.stderr
    resolved = yaml.safe_load(r.stdout)
    assert resolved["train"]["epochs"] == 7 and resolved["search"]["seeds"] == 2
    assert resolved["train"]["device"] == "auto"                     # defaults filled in
    assert resolved["data"]["manifest"] == str(tmp_path / "m.csv")   # as the run resolves it
    r = hmtl("config", str(path), "train.epohcs=7")
    assert r.returncode == 2 and "train.epohcs: unknown key (did you mean 'epochs'?)" in r.stderr


def test_run_help_says_where_keys_are_listed():
    r = hmtl("run", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "hmtl config --defaults" in text and "docs/config.md" in text and "--plan" in text


def test_run_plan_prints_the_plan_and_trains_nothing(tmp_path, corpus):
    import yaml

    from hmtl.testing import TINY

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**TINY, "data": {"manifest": str(corpus),
                                                     "tasks": ["vowel", "pitch", "rhythm"]}}))
    out = tmp_path / "out"
    r = hmtl("run", str(path), "--out", str(out), "--plan", "search.sweep=exhaustive")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "plan:"
    assert "stage 1              3 trainings  (3 tasks × 1 seed)" in r.stdout
    assert "stage 2              6 trainings  (3 pairs × 2 depths × 1 seed)" in r.stdout
    assert "flat                 1 training   (1 seed)" in r.stdout
    assert any(line.startswith("  time: ≈ ") and "steps timed" in line for line in lines)
    assert not out.exists()          # a plan leaves no run folder behind
