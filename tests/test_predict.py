"""hmtl predict on files of any length (the run and its ONNX model agree), and the export and
prediction of every task type (classification, regression, verification)."""

import json
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from hmtl.cli.main import main as hmtl  # noqa: E402
from hmtl.testing import write_wav  # noqa: E402


# ----------------------------------------------------------------------------- predict

def check_line(line: dict, classes: dict) -> None:
    assert set(line) == {"file"} | set(classes)
    for task, names in classes.items():
        assert line[task]["label"] in names and 0 <= line[task]["probability"] <= 1


@pytest.mark.parametrize("model", ["run", "onnx"])
def test_predict_schema(model, export_run_dir, exported, clips, capsys):
    from hmtl.export.load import load_run

    classes = load_run(export_run_dir).classes
    target = export_run_dir if model == "run" else exported[0] / "model.onnx"
    files = [clips["window"], clips["long"], clips["short"]]
    assert hmtl(["predict", str(target)] + [str(f) for f in files]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["file"] for x in lines] == [str(f) for f in files]
    for line in lines:
        check_line(line, classes)


def test_predict_run_and_onnx_agree(export_run_dir, exported, clips):
    from hmtl.export.predict import open_model, predict_file

    a = predict_file(open_model(export_run_dir), clips["long"])
    b = predict_file(open_model(exported[0] / "model.onnx"), clips["long"])
    for task in ("vowel", "pitch"):
        assert a[task]["label"] == b[task]["label"]
        assert a[task]["probability"] == pytest.approx(b[task]["probability"], abs=1e-4)


def test_long_clip_averages_windows_and_short_clip_is_padded(exported, clips):
    from hmtl.data.audio import fix_length
    from hmtl.export.predict import open_model, predict_wave, read_audio, window_starts

    p = open_model(exported[0] / "model.onnx")
    n = p.features.num_samples
    wave = read_audio(clips["long"], p.features.sample_rate)
    probs, count = predict_wave(p, wave, batch=3)       # batches of windows: same mean
    starts = window_starts(len(wave), n)
    assert count == len(starts) >= 5 and starts[1] == n // 2 and starts[-1] == len(wave) - n
    each = p.probabilities(np.stack([wave[s:s + n] for s in starts]))
    for task in p.tasks:
        assert np.allclose(probs[task], each[task].mean(axis=0), atol=1e-6)

    short = read_audio(clips["short"], p.features.sample_rate)
    probs, count = predict_wave(p, short)
    once = p.probabilities(fix_length(short, n, "center")[None])
    assert count == 1
    for task in p.tasks:
        assert np.allclose(probs[task], once[task][0], atol=1e-6)


def test_predict_bad_files_keep_going_and_exit_2(exported, clips, capsys):
    names = ["window", "corrupt", "empty", "missing", "short"]
    code = hmtl(["predict", str(exported[0] / "model.onnx")] + [str(clips[n]) for n in names])
    captured = capsys.readouterr()
    lines = [json.loads(x) for x in captured.out.splitlines()]
    assert code == 2 and len(lines) == 5
    assert [("error" in x) for x in lines] == [False, True, True, True, False]
    errors = captured.err.strip().splitlines()
    assert len(errors) == 3
    for name, err in zip(["corrupt", "empty", "missing"], errors):
        assert err.startswith("hmtl: error: ") and str(clips[name]) in err


def test_predict_bad_model_exits_2(tmp_path, clips, capsys):
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"not onnx")
    assert hmtl(["predict", str(fake), str(clips["window"])]) == 2
    assert str(fake) in capsys.readouterr().err


# ----------------------------------------------------------------------------- task types

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "fixtures"))
from hmtl_mixed_run import mixed_run_dir  # noqa: E402

MIXED_OUTPUTS = ["logits_vowel", "probs_vowel", "value_f0", "embedding_voice"]


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """A finished run with a classification, a regression (f0) and a verification (voice)."""
    return mixed_run_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def mixed_exported(mixed_run, tmp_path_factory):
    """Its final tree exported with --int8 (legacy exporter: fast). (out dir, export.json)."""
    from hmtl.export.pipeline import export_run

    out = tmp_path_factory.mktemp("mixed-export")
    report = export_run(mixed_run, out, int8=True, exporter="torchscript")
    assert json.loads((out / "export.json").read_text())["metrics"] == report["metrics"]
    return out, report


def test_mixed_export_outputs_by_type_and_parity(mixed_run, mixed_exported):
    from hmtl.export.check import features_of_test_split, rows_of_test_split
    from hmtl.export.load import load_model, load_run
    from hmtl.export.onnx_export import read_metadata
    from hmtl.export.runtime import run_graph, session
    from hmtl.tasks import Regression, TaskInfo

    out, report = mixed_exported
    sess = session(out / "model.onnx")
    assert [o.name for o in sess.get_outputs()] == MIXED_OUTPUTS
    assert report["outputs"] == {"logits": ["logits_vowel"], "probs": ["probs_vowel"],
                                 "value": ["value_f0"], "embedding": ["embedding_voice"]}
    parity = report["parity"]["onnx"]
    assert parity["max"] <= 1e-4 and parity["real_clips"] > 0
    assert set(parity["outputs"]) == set(MIXED_OUTPUTS)
    assert max(parity["outputs"].values()) <= 1e-4

    run = load_run(mixed_run)
    meta = read_metadata(out / "model.onnx")
    assert meta["types"] == {"vowel": "classification", "f0": "regression",
                             "voice": "verification"}
    assert set(meta["classes"]) == {"vowel"}
    assert meta["regression"]["f0"] == pytest.approx(
        {k: run.meta["info"]["f0"][k] for k in ("mean", "std")})
    assert meta["outputs"]["value"] == {"f0": "value_f0"}
    # value_f0 is the label's unit: the head's standardised output de-standardised, as training
    # measured it; the embeddings are unit vectors
    x, _ = features_of_test_split(run, 6)
    onnx = run_graph(sess, x)
    model, _ = load_model(run)
    with torch.no_grad():
        raw = model(torch.from_numpy(x))
    expected = Regression.values(raw["f0"], TaskInfo.from_json(run.meta["info"]["f0"]))
    assert onnx["value_f0"].shape == (len(x),)
    assert np.abs(onnx["value_f0"] - expected).max() / run.meta["info"]["f0"]["std"] < 1e-4
    assert np.allclose(np.linalg.norm(onnx["embedding_voice"], axis=1), 1.0, atol=1e-5)
    assert onnx["embedding_voice"].shape == (len(x), 8)
    assert len(rows_of_test_split(run)) == report["metrics"]["clips"]


def test_mixed_int8_report_has_each_primary_metric(mixed_exported):
    out, report = mixed_exported
    m = report["metrics"]
    assert m["primary"] == {"vowel": "accuracy", "f0": "mae", "voice": "eer"}
    for name in ("torch", "onnx", "onnx_int8", "recorded"):
        assert set(m[name]) == {"vowel", "f0", "voice"}
        assert np.isfinite(m[name]["f0"]) and m[name]["f0"] >= 0          # label's unit
        assert 0 <= m[name]["voice"] <= 1 and 0 <= m[name]["vowel"] <= 1
    for task in ("vowel", "f0", "voice"):
        assert m["torch"][task] == pytest.approx(m["recorded"][task], rel=1e-4)   # same model
        assert m["onnx"][task] == pytest.approx(m["torch"][task], rel=1e-4)
    assert report["accuracy"]["onnx_int8"] == {"vowel": m["onnx_int8"]["vowel"]}
    from hmtl.cli.export import summary

    text = summary(report)
    assert "f0 mae:" in text and "voice eer:" in text and "vowel accuracy:" in text


def test_mixed_predict_schema(mixed_run, mixed_exported, tmp_path, capsys):
    from hmtl.export.check import load_wave
    from hmtl.export.load import load_run

    run = load_run(mixed_run)
    src = sorted((mixed_run.parent / "corpus" / "clips").glob("*.wav"))
    waves = [load_wave(p, run.cfg.features) for p in src[:3]]
    long = write_wav(tmp_path / "long.wav", np.concatenate(waves), run.cfg.features.sample_rate)
    files = [str(src[3]), str(long)]
    model = str(mixed_exported[0] / "model.onnx")

    assert hmtl(["predict", model] + files) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["file"] for x in lines] == files
    for line in lines:
        assert set(line) == {"file", "vowel", "f0", "voice"}
        assert set(line["vowel"]) == {"label", "probability"}
        assert line["vowel"]["label"] in run.classes["vowel"]
        assert set(line["f0"]) == {"value"} and np.isfinite(line["f0"]["value"])
        assert set(line["voice"]) == {"embedding_norm"}
    # the length of the mean of the windows' unit embeddings: 1 for one window, at most 1
    assert lines[0]["voice"]["embedding_norm"] == pytest.approx(1.0, abs=1e-5)
    assert 0 < lines[1]["voice"]["embedding_norm"] <= 1.0

    assert hmtl(["predict", model, "--enroll", str(src[3])] + files) == 0
    scored = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    for line, plain in zip(scored, lines):
        assert set(line["voice"]) == {"score"} and -1 <= line["voice"]["score"] <= 1
        assert line["f0"] == plain["f0"] and line["vowel"] == plain["vowel"]
    assert scored[0]["voice"]["score"] == pytest.approx(1.0, abs=1e-5)   # enrolled with itself

    # torch from the run folder agrees with the ONNX file
    from hmtl.export.predict import enrolment, open_model, predict_file

    p = open_model(mixed_run)
    a = predict_file(p, long, enrolment(p, src[3]))
    assert a["f0"]["value"] == pytest.approx(scored[1]["f0"]["value"], rel=1e-4)
    assert a["voice"]["score"] == pytest.approx(scored[1]["voice"]["score"], abs=1e-4)


def test_enroll_errors_exit_2(mixed_exported, exported, clips, capsys):
    model = str(mixed_exported[0] / "model.onnx")
    assert hmtl(["predict", model, "--enroll", str(clips["missing"]), str(clips["window"])]) == 2
    err = capsys.readouterr().err
    assert "--enroll" in err and str(clips["missing"]) in err
    # a model without a verification task has nothing to enrol
    assert hmtl(["predict", str(exported[0] / "model.onnx"), "--enroll", str(clips["window"]),
                 str(clips["window"])]) == 2
    assert "no verification task" in capsys.readouterr().err
