"""hmtl export: ONNX parity with torch (features in and waveform in), int8, latency and the
targets, on the tiny run that conftest.py trains once per session (export_run_dir)."""

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


def test_a_budget_tree_loads_by_its_budget(export_run_dir):
    from hmtl.export.load import load_model, load_run
    from hmtl.models import TreeSpec

    run = load_run(export_run_dir)
    [budget] = run.results["budgets"]
    model, info = load_model(run, f"budget:{budget['budget']}")
    assert model.spec == TreeSpec.from_json(run.tasks, budget["tree"]) and info["seed"] == 0
    with pytest.raises(HmtlError, match="no budget tree 'budget:7'"):
        load_model(run, "budget:7")


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


def test_export_features_parity_and_accuracy(exported, export_run_dir):
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


def test_export_waveform_parity(export_run_dir, tmp_path):
    from hmtl.export.pipeline import export_run

    report = export_run(export_run_dir, tmp_path, waveform=True, int8=True, exporter="torchscript")
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


def test_export_above_tolerance_fails_and_keeps_no_model_onnx(export_run_dir, tmp_path):
    from hmtl.export.pipeline import export_run

    with pytest.raises(HmtlError, match="differs from torch"):
        export_run(export_run_dir, tmp_path, tolerance=-1.0, exporter="torchscript")
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

def test_latency(exported, export_run_dir, tmp_path):
    from hmtl.export.latency import measure_latency
    from hmtl.export.pipeline import export_run

    lat = measure_latency(exported[0] / "model.onnx", runs=5, warmup=1)
    assert lat["median_ms"] > 0 and lat["input_shape"][0] == 1

    run = tmp_path / "run"
    shutil.copytree(export_run_dir, run)
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


def test_static_int8_is_qdq_with_per_channel_8bit_weights(exported, export_run_dir):
    import numpy as np
    import onnx

    out, report = exported
    q = report["quantization"]
    assert q["kind"] == "static" and q["format"] == "QDQ"
    train = int((np.load(export_run_dir / "data" / "split.npy") == 0).sum())
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


def test_static_int8_agrees_with_float(exported, export_run_dir):
    from hmtl.export.check import features_of_test_split
    from hmtl.export.load import load_run
    from hmtl.export.runtime import run_graph, session

    out, report = exported
    x, _ = features_of_test_split(load_run(export_run_dir))
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


def test_graph_macs_are_the_models(exported, export_run_dir):
    from hmtl.export.load import load_model, load_run

    model, _ = load_model(load_run(export_run_dir))
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


def test_target_names(export_run_dir, capsys):
    from hmtl.export.targets import parse_targets

    assert parse_targets(None) == ["onnx"]
    assert parse_targets(["onnx-int8-dynamic,onnx-int8"]) == ["onnx", "onnx-int8",
                                                               "onnx-int8-dynamic"]
    assert parse_targets(["onnx"], int8=True) == ["onnx", "onnx-int8"]
    assert parse_targets(["mcu,onnx-int8"]) == ["onnx", "onnx-int8", "mcu"]
    with pytest.raises(HmtlError, match="--target: one of onnx, onnx-int8, onnx-int8-dynamic, "
                                        "mcu, got 'tflite'"):
        parse_targets(["onnx,tflite"])
    assert hmtl(["export", str(export_run_dir), "--target", "tflite"]) == 2      # before any work
    assert "--target: one of" in capsys.readouterr().err
    assert hmtl(["export", str(export_run_dir), "--int8", "--calibration-clips", "0"]) == 2
    assert "--calibration-clips" in capsys.readouterr().err


def test_dynamic_int8_target(export_run_dir, tmp_path):
    import onnx

    from hmtl.export.pipeline import export_run

    report = export_run(export_run_dir, tmp_path, targets=["onnx-int8-dynamic"], exporter="torchscript")
    assert list(report["targets"]) == ["onnx", "onnx-int8-dynamic"]
    assert not (tmp_path / "model.int8.onnx").exists() and "quantization" not in report
    t = report["targets"]["onnx-int8-dynamic"]
    assert t["quantization"]["kind"] == "dynamic"
    assert set(t["metrics"]) == {"vowel", "pitch"}
    ops = {n.op_type for n in onnx.load(str(tmp_path / t["file"])).graph.node}
    assert "ConvInteger" in ops or "DynamicQuantizeLinear" in ops


def test_calibration_draws_training_clips_only(export_run_dir):
    from hmtl.export.calibrate import calibration_inputs, calibration_rows
    from hmtl.export.load import load_run

    run = load_run(export_run_dir)
    split = np.load(export_run_dir / "data" / "split.npy")
    rows = calibration_rows(run, 10)
    assert len(rows) == 10 and (split[rows] == 0).all()
    assert (calibration_rows(run, 10) == rows).all()              # seeded
    assert len(calibration_rows(run, 10**6)) == (split == 0).sum()
    x = calibration_inputs(run, waveform=False, clips=4)
    assert x.shape == (4, run.cfg.features.channels, run.frames) and x.dtype == np.float32
    with pytest.raises(HmtlError, match="calibration clips: must be >= 1"):
        calibration_rows(run, 0)
