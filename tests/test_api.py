"""The Python API (hmtl.run, hmtl.load, model.predict) and the saved-model folder
(model.safetensors + model.json): a tiny run with one task of each type is trained ONCE per
module through hmtl.run; a saved model must load with its run folder gone and compute exactly
what load_model's model computes."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import hmtl
from hmtl.cli.main import main as hmtl_cli
from hmtl.errors import HmtlError

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from hmtl_mixed_run import MIXED  # noqa: E402   (vowel classification, f0 regression, voice)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished tiny run (64 clips, 1 epoch), made by hmtl.run."""
    from hmtl.testing import tiny_config, tiny_corpus

    root = tmp_path_factory.mktemp("api-run")
    with pytest.MonkeyPatch.context() as mp:    # module scope: conftest's cache fixture is not on
        mp.setenv("HMTL_CACHE", str(root / "cache"))
        mp.setenv("HMTL_PROGRESS", "0")
        cfg = tiny_config(tiny_corpus(root / "corpus", clips=64), tasks=MIXED,
                          train={"epochs": 1})
        out = hmtl.run(cfg, out=root / "run", verbose=False)
    assert out == root / "run" and (out / "results.json").is_file()
    return out


@pytest.fixture(scope="module")
def saved_dirs(run_dir, tmp_path_factory):
    """{method: saved-model folder}, saved from a COPY of the run that is then deleted."""
    from hmtl.export.saved import save_model

    root = tmp_path_factory.mktemp("saved")
    copy = root / "run-copy"
    shutil.copytree(run_dir, copy)
    folders = {m: save_model(copy, m) for m in ("hierarchical", "flat", "independent")}
    assert folders["hierarchical"] == copy / "models" / "hierarchical"
    moved = {m: shutil.move(str(f), str(root / m)) for m, f in folders.items()}
    shutil.rmtree(copy)
    return {m: Path(f) for m, f in moved.items()}


@pytest.fixture(scope="module")
def clip(run_dir):
    """(a real clip of the corpus, decoded at the model's rate, its file)."""
    from hmtl.export.predict import read_audio

    path = sorted((run_dir.parent / "corpus" / "clips").glob("*.wav"))[0]
    return read_audio(path, 8000), path


def reference(run_dir, method: str, wave: torch.Tensor) -> dict[str, torch.Tensor]:
    """What `hmtl predict` reads per task, from load_model's model and the training front end."""
    from hmtl.data.frontend import build_frontend
    from hmtl.export.load import load_model, load_run
    from hmtl.export.onnx_export import head_outputs
    from hmtl.export.predict import READS

    run = load_run(run_dir)
    model, _ = load_model(run, method)
    with torch.no_grad():
        out = head_outputs(model(build_frontend(run.cfg.features)(wave)), run.tasks, run.heads)
    return {t: out[f"{READS[run.types[t]]}_{t}"] for t in run.tasks}


@pytest.mark.parametrize("method", ["hierarchical", "flat", "independent"])
def test_saved_model_equals_load_model(method, run_dir, saved_dirs, clip):
    from hmtl.export.saved import load_saved

    model = load_saved(saved_dirs[method])
    assert isinstance(model, torch.nn.Module) and not model.training
    g = torch.Generator().manual_seed(3)
    wave = torch.cat([0.1 * torch.randn(2, 4000, generator=g), torch.from_numpy(clip[0])[None]])
    with torch.no_grad():
        got = model(wave)
    want = reference(run_dir, method, wave)
    assert list(got) == ["vowel", "f0", "voice"]
    for task in want:
        assert got[task].shape == want[task].shape
        assert float((got[task] - want[task]).abs().max()) <= 1e-5, task


def test_model_json_is_the_card(run_dir, saved_dirs):
    from hmtl.export.load import load_model, load_run

    card = json.loads((saved_dirs["hierarchical"] / "model.json").read_text())
    run = load_run(run_dir)
    model, info = load_model(run)
    assert card["hmtl"] == hmtl.__version__ and card["method"] == "hierarchical"
    assert card["seed"] == info["seed"] and card["tree"] == model.spec.to_json()
    assert (card["params"], card["macs"]) == model.cost()
    assert card["features"]["sample_rate"] == 8000 and card["model"]["widths"] == [16, 8]
    tasks = {t["name"]: t for t in card["tasks"]}
    assert tasks["vowel"]["classes"] == run.classes["vowel"]
    assert (tasks["f0"]["mean"], tasks["f0"]["std"]) == (run.heads["f0"]["mean"],
                                                         run.heads["f0"]["std"])
    assert tasks["voice"] == {"name": "voice", "type": "verification", "size": 8}
    assert card["test"]["vowel"]["accuracy"] == info["test"]["vowel"]["accuracy"]
    assert "per_clip" not in card["test"]["f0"]          # scalars only


def test_load_accepts_run_and_saved_folders(run_dir, saved_dirs, clip):
    wave = torch.from_numpy(clip[0])[None]
    from_run = hmtl.load(run_dir, method="flat")
    from_saved = hmtl.load(saved_dirs["flat"])
    assert isinstance(from_saved, hmtl.SavedModel) and from_saved.card.method == "flat"
    with torch.no_grad():
        a, b = from_run(wave), from_saved(wave)
    for task in a:
        assert torch.equal(a[task], b[task])
    with pytest.raises(HmtlError, match="holds one training, the flat model of seed 0"):
        hmtl.load(saved_dirs["flat"], method="hierarchical")
    with pytest.raises(HmtlError, match=r"neither a run folder \(config.yaml, results.json\) "
                                        r"nor a saved-model folder"):
        hmtl.load(run_dir.parent)


def test_predict_returns_every_task_like_hmtl_predict(run_dir, saved_dirs, clip):
    from hmtl.export.predict import open_model, predict_file

    model = hmtl.load(saved_dirs["hierarchical"])
    wave, path = clip
    got = model.predict(wave, 8000)
    assert set(got) == {"vowel", "f0", "voice"}
    assert got["vowel"]["label"] in model.classes["vowel"]
    assert 0 <= got["vowel"]["probability"] <= 1
    assert isinstance(got["f0"]["value"], float)
    assert 0 <= got["voice"]["embedding_norm"] <= 1
    assert predict_file(open_model(run_dir), path) == {"file": str(path), **got}

    long = np.concatenate([wave] * 5)                     # several windows, another rate
    import soxr

    at_16k = model.predict(soxr.resample(long, 8000, 16000), 16000)
    assert set(at_16k) == set(got) and at_16k["vowel"]["label"] in model.classes["vowel"]
    with pytest.raises(HmtlError, match=r"waveform: expected .* shape \(2, 4000\)"):
        model.predict(np.zeros((2, 4000), np.float32), 8000)
    with pytest.raises(HmtlError, match="sample_rate: expected a positive integer"):
        model.predict(wave, 0)


def test_hmtl_predict_reads_a_saved_folder(run_dir, saved_dirs, clip, capsys):
    path = str(clip[1])
    assert hmtl_cli(["predict", str(saved_dirs["hierarchical"]), path]) == 0
    assert hmtl_cli(["predict", str(run_dir), path]) == 0
    from_saved, from_run = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert from_saved == from_run
    assert hmtl_cli(["predict", str(saved_dirs["flat"]), "--seed", "3", path]) == 2
    assert "holds one training" in capsys.readouterr().err


@pytest.mark.parametrize("damage, message", [
    ("no card", "model.json: missing"),
    ("not json", "model.json: damaged, not valid JSON"),
    ("no tree", r"model.json: missing key\(s\) \['tree'\]"),
    ("bad task", r"model.json: tasks\[1\].type: one of"),
    ("newer", "model.json: format 99 is newer"),
    ("no weights", "model.safetensors: missing"),
    ("bad weights", "model.safetensors: damaged"),
    ("wrong size", "model.safetensors: the weights do not fit model.json's model"),
])
def test_a_damaged_folder_names_the_file(damage, message, saved_dirs, tmp_path):
    from hmtl.export.saved import load_saved

    folder = tmp_path / "m"
    shutil.copytree(saved_dirs["hierarchical"], folder)
    card = json.loads((folder / "model.json").read_text())
    if damage == "no card":
        (folder / "model.json").unlink()
    elif damage == "not json":
        (folder / "model.json").write_text('{"format": 1, "tasks": [')
    elif damage == "no weights":
        (folder / "model.safetensors").unlink()
    elif damage == "bad weights":
        (folder / "model.safetensors").write_bytes(b"\x00\x01 not safetensors")
    else:
        if damage == "no tree":
            del card["tree"]
        elif damage == "bad task":
            card["tasks"][1]["type"] = "ranking"
        elif damage == "newer":
            card["format"] = 99
        else:                                               # "wrong size"
            card["tasks"][0]["size"] = 7
            card["tasks"][0]["classes"] = list("abcdefg")
        (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(HmtlError, match=message) as e:
        load_saved(folder)
    assert str(folder) in str(e.value) and "\n" not in str(e.value)


def test_export_writes_the_saved_model(run_dir, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from hmtl.cli.export import summary
    from hmtl.export.pipeline import export_run
    from hmtl.export.saved import load_saved

    report = export_run(run_dir, tmp_path, exporter="torchscript")
    assert report["saved_model"] == str(tmp_path / "model")
    assert report["files"]["model/model.safetensors"] == \
        (tmp_path / "model" / "model.safetensors").stat().st_size
    assert (tmp_path / "model.onnx").is_file() and load_saved(tmp_path / "model").card.seed == 0
    assert f"saved model: {tmp_path / 'model'}" in summary(report)


def test_run_needs_an_out_folder_unless_config_is_a_file(run_dir):
    with pytest.raises(HmtlError, match="out: name the run folder"):
        hmtl.run({"data": {"manifest": "m.csv", "tasks": ["a"]}})
    with pytest.raises(HmtlError, match="nope.yaml: config file not found"):
        hmtl.run("nope.yaml")


def test_import_hmtl_loads_no_torch():
    code = ("import sys, hmtl; "
            "print(sorted(k for k in ('torch', 'numpy', 'hmtl.api', 'hmtl.pipeline') "
            "if k in sys.modules)); print(sorted(set(hmtl.__all__) - set(dir(hmtl))))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["[]", "[]"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hmtl.nope  # noqa: B018
