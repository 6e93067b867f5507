"""hmtl export / hmtl predict: ONNX parity with torch (features in and waveform in), int8,
latency, and prediction on files of any length, on one tiny run trained once per module."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from hmtl.cli.main import main as hmtl  # noqa: E402
from hmtl.errors import HmtlError  # noqa: E402
from hmtl.testing import tiny_config, tiny_corpus, write_wav  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished tiny run (2 tasks, 1 seed): stage 1, pairs, tree, flat."""
    from hmtl.pipeline import run_pipeline

    root = tmp_path_factory.mktemp("export-run")
    with pytest.MonkeyPatch.context() as mp:    # module scope: conftest's cache fixture is not on
        mp.setenv("HMTL_CACHE", str(root / "cache"))
        mp.setenv("HMTL_PROGRESS", "0")
        cfg = tiny_config(tiny_corpus(root / "corpus", clips=64), train={"epochs": 1},
                          search={"budgets": [0.8]})
        run_pipeline(cfg, root / "run", verbose=False)
    return root / "run"


def test_a_budget_tree_loads_by_its_budget(run_dir):
    from hmtl.export.load import load_model, load_run
    from hmtl.models import TreeSpec

    run = load_run(run_dir)
    [budget] = run.results["budgets"]
    model, info = load_model(run, f"budget:{budget['budget']}")
    assert model.spec == TreeSpec.from_json(run.tasks, budget["tree"]) and info["seed"] == 0
    with pytest.raises(HmtlError, match="no budget tree 'budget:7'"):
        load_model(run, "budget:7")


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    """`hmtl export RUN --int8` with the default exporter (torch.export); the other exports of
    this file use the legacy TorchScript exporter, ten times faster. Returns (out dir,
    export.json)."""
    out = tmp_path_factory.mktemp("export-out")
    assert hmtl(["export", str(run_dir), "--int8", "--out", str(out)]) == 0
    return out, json.loads((out / "export.json").read_text())


@pytest.fixture(scope="module")
def clips(run_dir, tmp_path_factory):
    """A clip of exactly the model's window, a long one (several windows), a short one, and
    broken ones."""
    from hmtl.export.check import load_wave
    from hmtl.export.load import load_run

    run = load_run(run_dir)
    feats = run.cfg.features
    src = sorted((run_dir.parent / "corpus" / "clips").glob("*.wav"))
    waves = [load_wave(p, feats) for p in src[:5]]
    folder = tmp_path_factory.mktemp("clips")
    files = {"window": src[0],
             "long": write_wav(folder / "long.wav", np.concatenate(waves), feats.sample_rate),
             "short": write_wav(folder / "short.wav", waves[1][: feats.num_samples // 3],
                                feats.sample_rate),
             "corrupt": folder / "corrupt.wav", "empty": folder / "empty.wav",
             "missing": folder / "missing.wav"}
    files["corrupt"].write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    files["empty"].write_bytes(b"")
    return files


# ----------------------------------------------------------------------------- export

@pytest.mark.parametrize("n_fft, win, hop", [(256, 200, 80), (512, 400, 160), (128, 128, 64),
                                              (255, 200, 100)])
def test_conv_stft_equals_torch_stft(n_fft, win, hop):
    from hmtl.export.stft import ConvSTFT

    g = torch.Generator().manual_seed(0)
    t = torch.arange(8000) / 8000
    wave = torch.stack([torch.randn(8000, generator=g),
                        torch.sin(2 * torch.pi * 440 * t) + 0.01 * torch.randn(8000, generator=g)])
    ref = torch.stft(wave, n_fft, hop, win, torch.hann_window(win), center=True,
                     pad_mode="constant", return_complex=True)
    real, imag = ConvSTFT(n_fft, hop, win).spectrum(wave)
    assert real.shape == ref.real.shape
    assert (real - ref.real).abs().max() < 1e-4 and (imag - ref.imag).abs().max() < 1e-4


def test_conv_logmel_equals_logmel():
    from hmtl.config import FeatureConfig
    from hmtl.data.frontend import build_frontend
    from hmtl.export.stft import export_frontend

    wave = 0.1 * torch.randn(3, 4000, generator=torch.Generator().manual_seed(1))
    for kind in ("logmel", "mfcc"):
        cfg = FeatureConfig(kind=kind, sample_rate=8000, n_fft=256, win_length=200, hop_length=80,
                            n_mels=24, n_mfcc=13)
        diff = (build_frontend(cfg)(wave) - export_frontend(cfg)(wave)).abs().max()
        assert diff < 1e-3     # dB; the model's outputs are held to 1e-4 end to end below


def test_export_features_parity_and_accuracy(exported, run_dir):
    out, report = exported
    try:
        import onnxscript  # noqa: F401  (torch.export's ONNX exporter needs it)
        assert report["exporter"] == "dynamo"
    except ImportError:
        assert report["exporter"] == "torchscript"
    parity = report["parity"]["onnx"]
    assert parity["max"] <= 1e-4
    assert parity["real_clips"] > 0 and {"random", "random_other_length", "real"} <= set(parity)
    acc = report["accuracy"]
    for task in ("vowel", "pitch"):
        assert acc["torch"][task] == pytest.approx(acc["recorded"][task])     # same model
        assert acc["onnx"][task] == pytest.approx(acc["torch"][task])
        assert 0 <= acc["onnx_int8"][task] <= 1
    assert report["files"]["model.onnx"] == (out / "model.onnx").stat().st_size

    from hmtl.export.onnx_export import read_metadata
    from hmtl.export.runtime import session

    meta = read_metadata(out / "model.onnx")
    assert meta["tasks"] == ["vowel", "pitch"] and meta["input"] == "features"
    names = [o.name for o in session(out / "model.onnx").get_outputs()]
    assert names == ["logits_vowel", "logits_pitch", "probs_vowel", "probs_pitch"]
    shape = session(out / "model.onnx").get_inputs()[0].shape
    assert isinstance(shape[0], str) and isinstance(shape[2], str)       # dynamic batch, time


def test_export_waveform_parity(run_dir, tmp_path):
    from hmtl.export.pipeline import export_run

    report = export_run(run_dir, tmp_path, waveform=True, int8=True, exporter="torchscript")
    assert report["input"] == "waveform"
    assert report["parity"]["onnx"]["max"] <= 1e-4
    assert report["parity"]["onnx"]["real_clips"] > 0         # real audio, decoded
    assert report["quantization"]["float_nodes_kept"] >= 2    # the STFT and mel filters
    # static int8 calibrated on decoded training audio, the front end left in float
    assert report["quantization"]["calibration"]["input"] == "waveform"
    int8 = report["targets"]["onnx-int8"]
    assert int8["frontend"].startswith("in the graph, float")
    assert 0 < int8["macs_frontend"] < int8["macs"] == report["targets"]["onnx"]["macs"]
    assert min(int8["agreement"].values()) >= 0.5


def test_int8_file_size(exported, tmp_path):
    """The tiny model's file is mostly graph, not weights, so its ratio is only checked to
    shrink; with 64-channel blocks the int8 file is under 40 % of the float one."""
    from hmtl.config import FeatureConfig, ModelConfig
    from hmtl.export.onnx_export import export_onnx
    from hmtl.export.quantize import quantize_int8
    from hmtl.models import TreeSpec, build_model

    assert exported[1]["files"]["model.int8.onnx"] < exported[1]["files"]["model.onnx"]
    feats = FeatureConfig(sample_rate=8000, duration=0.5, n_fft=256, win_length=200,
                          hop_length=80, n_mels=24)
    spec = TreeSpec.from_json(["a", "b"], [[["a", "b"]], [["a"], ["b"]]])
    model = build_model(spec, ModelConfig(blocks=2, widths=[64, 64]), {"a": 3, "b": 5},
                        feats.channels, feats.num_frames)
    export_onnx(model, feats, feats.num_frames, tmp_path / "m.onnx", exporter="torchscript")
    quantize_int8(tmp_path / "m.onnx", tmp_path / "m8.onnx")
    ratio = (tmp_path / "m8.onnx").stat().st_size / (tmp_path / "m.onnx").stat().st_size
    assert ratio < 0.4


def test_parity_failure_is_an_error():
    from hmtl.export.check import require_parity

    with pytest.raises(HmtlError, match="differs from torch by 2.00e-03 on real"):
        require_parity({"random": 1e-6, "real": 2e-3, "max": 2e-3}, "m.onnx")


def test_export_above_tolerance_fails_and_keeps_no_model_onnx(run_dir, tmp_path):
    from hmtl.export.pipeline import export_run

    with pytest.raises(HmtlError, match="differs from torch"):
        export_run(run_dir, tmp_path, tolerance=-1.0, exporter="torchscript")
    assert not (tmp_path / "model.onnx").exists() and (tmp_path / "model.rejected.onnx").exists()


def test_bad_run_folder_exits_2(tmp_path, capsys):
    assert hmtl(["export", str(tmp_path)]) == 2
    assert "not a finished run folder" in capsys.readouterr().err


def test_missing_extra_says_how_to_install(monkeypatch):
    from hmtl.export.deps import need

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(HmtlError, match=r"hmtl\[export\]"):
        need("onnxruntime")


def test_help_imports_no_onnx():
    code = ("import sys, hmtl.cli.main as m; m.build_parser(); "
            "print(sorted(k for k in ('torch', 'onnx', 'onnxruntime') if k in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- latency

def test_latency(exported, run_dir, tmp_path):
    from hmtl.export.latency import measure_latency
    from hmtl.export.pipeline import export_run

    lat = measure_latency(exported[0] / "model.onnx", runs=5, warmup=1)
    assert lat["median_ms"] > 0 and lat["input_shape"][0] == 1

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    report = export_run(run, tmp_path / "out", latency=True, runs=3, exporter="torchscript",
                        targets="onnx-int8")
    methods = report["latency"]["methods"]
    assert set(methods) == {"independent", "flat", "hierarchical"}
    results = json.loads((run / "results.json").read_text())
    for name, entry in results["methods"].items():
        assert entry["latency_ms"] > 0 and entry["onnx_bytes"] > 0
        assert entry["onnx_bytes"] == methods[name]["onnx_bytes"]
    assert report["latency"]["independent_separate_files"]["latency_ms"] > 0
    # each target timed, and the export's device figures recorded for the report
    device = results["device"]["methods"]["hierarchical"]
    for name in ("onnx", "onnx-int8"):
        assert report["targets"][name]["latency_ms"] > 0
        assert device["targets"][name]["latency_ms"] == report["targets"][name]["latency_ms"]
        assert device["targets"][name]["metrics"] == report["metrics"][TARGET_SESSION[name]]
    assert results["device"]["settings"]["intra_op_threads"] == 1
    # ... which the report shows as its device table, also written as Markdown
    from hmtl.report import write_report
    from hmtl.report.device import markdown_table

    table = markdown_table(results)
    assert "| hierarchical | int8 static |" in table and "| vowel accuracy |" in table
    page = write_report(run).read_text()
    assert '<section id="device">' in page and "int8 static" in page
    assert markdown_table({"tasks": ["vowel"]}) == ""                  # nothing exported


# ----------------------------------------------------------------------------- targets, int8

TARGET_SESSION = {"onnx": "onnx", "onnx-int8": "onnx_int8"}


def _initializers(proto) -> dict:
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}


def test_static_int8_is_qdq_with_per_channel_8bit_weights(exported, run_dir):
    import numpy as np
    import onnx

    out, report = exported
    q = report["quantization"]
    assert q["kind"] == "static" and q["format"] == "QDQ"
    train = int((np.load(run_dir / "data" / "split.npy") == 0).sum())
    assert q["calibration"]["clips"] == min(128, train) and q["calibration"]["split"] == "train"
    assert q["frontend"] == "out of the graph (input: features)"
    proto = onnx.load(str(out / "model.int8.onnx"))
    ops = [n.op_type for n in proto.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    inits = _initializers(proto)
    made = {o: n for n in proto.graph.node for o in n.output}
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    assert convs
    for conv in convs:                    # weight <- DequantizeLinear(8-bit, scale per channel)
        dq = made[conv.input[1]]
        assert dq.op_type == "DequantizeLinear"
        w, scale = inits[dq.input[0]], inits[dq.input[1]]
        assert w.dtype in (np.uint8, np.int8) and w.ndim == 3
        assert scale.shape == (w.shape[0],)          # one scale per output channel
        assert made[conv.input[0]].op_type == "DequantizeLinear"  # activations quantised too
    # the simplified graph pools in 1-D: no Unsqueeze -> MaxPool -> Squeeze chains left
    float_ops = [n.op_type for n in onnx.load(str(out / "model.onnx")).graph.node]
    assert "MaxPool" in float_ops and "Squeeze" not in float_ops


def test_static_int8_agrees_with_float(exported, run_dir):
    from hmtl.export.check import features_of_test_split
    from hmtl.export.load import load_run
    from hmtl.export.runtime import run_graph, session

    out, report = exported
    x, _ = features_of_test_split(load_run(run_dir))
    a = run_graph(session(out / "model.onnx"), x)
    b = run_graph(session(out / "model.int8.onnx"), x)
    for task in ("vowel", "pitch"):
        la, lb = a[f"logits_{task}"].ravel(), b[f"logits_{task}"].ravel()
        assert np.corrcoef(la, lb)[0, 1] > 0.98
        assert abs(report["metrics"]["onnx_int8"][task]
                   - report["metrics"]["onnx"][task]) <= 0.1      # a few of ~30 tiny clips
        assert report["metrics"]["agreement"]["onnx_int8"][task] >= 0.8


def test_export_json_keys_only_added(exported):
    out, report = exported
    assert report == json.loads((out / "export.json").read_text())
    old = {"run", "out", "method", "seed", "trainings", "tree", "input", "input_shape",
           "trained_length", "outputs", "exporter", "versions", "tolerance", "files",
           "saved_model", "parity", "quantization", "int8_size_ratio", "metrics", "accuracy"}
    assert old <= set(report)
    assert {"model.onnx", "model.int8.onnx"} <= set(report["files"])
    assert {"onnx", "onnx_int8"} <= set(report["parity"]) and "agreement" not in report["accuracy"]
    assert list(report["targets"]) == ["onnx", "onnx-int8"]
    for name, t in report["targets"].items():
        assert t["file"] in report["files"] and t["bytes"] == report["files"][t["file"]]
        assert t["macs"] > 0 and 0 < t["input_bytes"] <= t["peak_activation_bytes"]
        assert 0 < t["weight_bytes"] < t["bytes"]
        assert t["metrics"] == report["metrics"][TARGET_SESSION[name]]
    f, q = report["targets"]["onnx"], report["targets"]["onnx-int8"]
    assert q["macs"] == f["macs"] and q["weight_bytes"] < f["weight_bytes"] / 2
    assert q["peak_activation_bytes"] <= f["peak_activation_bytes"]
    assert q["quantization"] == report["quantization"] and "quantization" not in f


def test_graph_macs_are_the_models(exported, run_dir):
    from hmtl.export.load import load_model, load_run

    model, _ = load_model(load_run(run_dir))
    assert exported[1]["targets"]["onnx"]["macs"] == model.cost()[1]


def test_peak_activation_estimate_on_a_known_graph():
    import onnx
    from onnx import TensorProto, helper

    from hmtl.export.figures import macs, peak_activation_bytes, value_types

    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 2, 1], [0.1] * 6)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["z"]),
         helper.make_node("MaxPool", ["z"], ["p"], kernel_shape=[2], strides=[2])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, "time"])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["batch", 3, "half"])], [w])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(proto)
    types = value_types(proto, 8)
    assert types["z"] == ([1, 3, 8], 4) and types["p"] == ([1, 3, 4], 4)
    # x (2·8 floats) is freed after the conv; y is fused into the ReLU; then z (3·8) and p (3·4)
    assert peak_activation_bytes(proto, types) == 4 * (3 * 8 + 3 * 4)
    assert macs(proto, types) == (3 * 8 * 2, 0)


def test_target_names(run_dir, capsys):
    from hmtl.export.targets import parse_targets

    assert parse_targets(None) == ["onnx"]
    assert parse_targets(["onnx-int8-dynamic,onnx-int8"]) == ["onnx", "onnx-int8",
                                                               "onnx-int8-dynamic"]
    assert parse_targets(["onnx"], int8=True) == ["onnx", "onnx-int8"]
    assert parse_targets(["mcu,onnx-int8"]) == ["onnx", "onnx-int8", "mcu"]
    with pytest.raises(HmtlError, match="--target: one of onnx, onnx-int8, onnx-int8-dynamic, "
                                        "mcu, got 'tflite'"):
        parse_targets(["onnx,tflite"])
    assert hmtl(["export", str(run_dir), "--target", "tflite"]) == 2      # before any work
    assert "--target: one of" in capsys.readouterr().err
    assert hmtl(["export", str(run_dir), "--int8", "--calibration-clips", "0"]) == 2
    assert "--calibration-clips" in capsys.readouterr().err


def test_dynamic_int8_target(run_dir, tmp_path):
    import onnx

    from hmtl.export.pipeline import export_run

    report = export_run(run_dir, tmp_path, targets=["onnx-int8-dynamic"], exporter="torchscript")
    assert list(report["targets"]) == ["onnx", "onnx-int8-dynamic"]
    assert not (tmp_path / "model.int8.onnx").exists() and "quantization" not in report
    t = report["targets"]["onnx-int8-dynamic"]
    assert t["quantization"]["kind"] == "dynamic"
    assert set(t["metrics"]) == {"vowel", "pitch"}
    ops = {n.op_type for n in onnx.load(str(tmp_path / t["file"])).graph.node}
    assert "ConvInteger" in ops or "DynamicQuantizeLinear" in ops


def test_calibration_draws_training_clips_only(run_dir):
    from hmtl.export.calibrate import calibration_inputs, calibration_rows
    from hmtl.export.load import load_run

    run = load_run(run_dir)
    split = np.load(run_dir / "data" / "split.npy")
    rows = calibration_rows(run, 10)
    assert len(rows) == 10 and (split[rows] == 0).all()
    assert (calibration_rows(run, 10) == rows).all()              # seeded
    assert len(calibration_rows(run, 10**6)) == (split == 0).sum()
    x = calibration_inputs(run, waveform=False, clips=4)
    assert x.shape == (4, run.cfg.features.channels, run.frames) and x.dtype == np.float32
    with pytest.raises(HmtlError, match="calibration clips: must be >= 1"):
        calibration_rows(run, 0)


# ----------------------------------------------------------------------------- predict

def check_line(line: dict, classes: dict) -> None:
    assert set(line) == {"file"} | set(classes)
    for task, names in classes.items():
        assert line[task]["label"] in names and 0 <= line[task]["probability"] <= 1


@pytest.mark.parametrize("model", ["run", "onnx"])
def test_predict_schema(model, run_dir, exported, clips, capsys):
    from hmtl.export.load import load_run

    classes = load_run(run_dir).classes
    target = run_dir if model == "run" else exported[0] / "model.onnx"
    files = [clips["window"], clips["long"], clips["short"]]
    assert hmtl(["predict", str(target)] + [str(f) for f in files]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["file"] for x in lines] == [str(f) for f in files]
    for line in lines:
        check_line(line, classes)


def test_predict_run_and_onnx_agree(run_dir, exported, clips):
    from hmtl.export.predict import open_model, predict_file

    a = predict_file(open_model(run_dir), clips["long"])
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
