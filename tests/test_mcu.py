"""The mcu target: a tree folded (BatchNorm into convolutions, ReLU fused) computes what the model
does; converted to full-integer int8 it runs in TensorFlow Lite Micro's own interpreter and
its outputs follow the float model's; `hmtl export --target mcu` writes and measures it."""

import json

import numpy as np
import pytest
import torch

pytest.importorskip("tflite_micro")

from hmtl.config.schema import ModelConfig  # noqa: E402
from hmtl.errors import HmtlError  # noqa: E402
from hmtl.export import tflm  # noqa: E402
from hmtl.models import TreeSpec, build_model  # noqa: E402

CLASSES = {"a": 4, "b": 3, "c": 5}


def trained_like(backbone: str, widths: list[int], frames: int = 40, channels: int = 16,
                 seed: int = 0):
    """A tree (a+b share two blocks, c branches after one) with random weights and non-trivial
    BatchNorm statistics, as training leaves them, in eval mode."""
    torch.manual_seed(seed)
    spec = TreeSpec(("a", "b", "c"), ((("a", "b", "c"),), (("a", "b"), ("c",)),
                                      (("a", "b"), ("c",))))
    cfg = ModelConfig(backbone=backbone, blocks=3, widths=widths, kernel_size=5, dropout=0.1)
    model = build_model(spec, cfg, CLASSES, channels, frames)
    model.set_input_stats(torch.randn(channels) * 2, torch.rand(channels) + 0.5)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def features(n: int, channels: int = 16, frames: int = 40, seed: int = 1) -> np.ndarray:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, channels, frames, generator=g) * 2).numpy()


@pytest.mark.parametrize("backbone,widths", [("tc_cnn", [8, 8, 12]), ("ds_cnn", [8, 12, 12])])
def test_folded_graph_computes_the_model(backbone, widths):
    model = trained_like(backbone, widths)
    graph = tflm.fold_tree(model)
    x = torch.from_numpy(features(6))
    with torch.no_grad():
        want = model(x)
        z = (x - model.norm.mean[:, None]) / model.norm.std[:, None]
        got = graph.heads(tflm.nhwc(z, graph.two_d))
    assert set(got) == set(CLASSES)
    for t in CLASSES:
        assert torch.allclose(got[t], want[t], atol=1e-4), t
    kinds = [layer.kind for layer in graph.layers]
    assert "maxpool" in kinds or backbone == "ds_cnn"
    assert ("dwconv" in kinds) == (backbone == "ds_cnn")
    assert kinds.count("fc") == 3 and kinds.count("mean") == 2       # two leaf groups


@pytest.mark.parametrize("backbone,widths", [("tc_cnn", [8, 8, 12]), ("ds_cnn", [8, 12, 12])])
def test_int8_model_runs_in_tflm_and_follows_the_float_model(backbone, widths):
    model = trained_like(backbone, widths)
    mcu = tflm.convert(model, features(64, seed=2))
    names = {"logits": {t: f"logits_{t}" for t in CLASSES}, "probs": {t: f"probs_{t}" for t in CLASSES}}
    session = tflm.TflmSession(mcu, names)
    x = features(32, seed=3)
    [logits_a, logits_c] = session.run(["logits_a", "logits_c"], {"features": x})
    with torch.no_grad():
        want = model(torch.from_numpy(x))
    for got, t in ((logits_a, "a"), (logits_c, "c")):
        ref = want[t].numpy()
        spread = ref.max() - ref.min()
        # int8 rounding through three blocks: a few output steps, far below the logits' range
        assert np.abs(got - ref).max() < 0.1 * spread, t
        assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.8, t
    # the interpreter really ran integer kernels: the input it holds is int8
    assert session.interp.get_input_details(0)["dtype"] == np.int8


@pytest.mark.parametrize("backbone,widths", [("tc_cnn", [8, 8, 12]), ("ds_cnn", [8, 12, 12])])
def test_float_reference_in_tflm_equals_the_model(backbone, widths):
    """The same graph in float32, run by TFLM: layouts, padding, pooling and the tree's
    routing are right independently of quantisation."""
    model = trained_like(backbone, widths)
    mcu = tflm.convert(model, features(8))
    interp = tflm.interpreter(mcu.float_flatbuffer)
    x = features(4, seed=5)
    z = (x - mcu.mean[None, :, None]) / mcu.std[None, :, None]
    with torch.no_grad():
        want = model(torch.from_numpy(x))
    for n, clip in enumerate(tflm.nhwc(torch.from_numpy(z.astype(np.float32)), mcu.two_d).numpy()):
        interp.set_input(clip[None], 0)
        interp.invoke()
        for j, t in enumerate(mcu.tasks):
            assert np.allclose(interp.get_output(j)[0], want[t][n].numpy(), atol=1e-4), t


def test_arena_is_the_smallest_that_runs(tmp_path):
    model = trained_like("tc_cnn", [8, 8, 12])
    mcu = tflm.convert(model, features(16))
    arena = tflm.arena_bytes(mcu.flatbuffer)
    assert 0 < arena < 64 * 1024
    path = tmp_path / "m.tflite"
    path.write_bytes(mcu.flatbuffer)
    assert tflm.fits_in_arena(path, arena) and not tflm.fits_in_arena(path, arena - 16)


def test_macs_are_the_models():
    model = trained_like("tc_cnn", [8, 8, 12])
    mcu = tflm.convert(model, features(8))
    assert mcu.macs == model.cost()[1]


def test_unsupported_backbone_and_layers_are_named():
    model = trained_like("tc_cnn", [8, 8, 12])
    model.blocks[0][0].append(torch.nn.Tanh())
    with pytest.raises(HmtlError, match="cannot convert Tanh"):
        tflm.fold_tree(model)
    model = trained_like("tc_cnn", [8, 8, 12])
    type(model.backbone).name, saved = "mine", type(model.backbone).name
    try:
        with pytest.raises(HmtlError, match="backbone 'mine' is not supported"):
            tflm.fold_tree(model)
    finally:
        type(model.backbone).name = saved


# ----------------------------------------------------------------------------- hmtl export

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from hmtl.pipeline import run_pipeline
    from hmtl.testing import tiny_config, tiny_corpus

    root = tmp_path_factory.mktemp("mcu-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMTL_CACHE", str(root / "cache"))
        mp.setenv("HMTL_PROGRESS", "0")
        cfg = tiny_config(tiny_corpus(root / "corpus", clips=64), train={"epochs": 1})
        run_pipeline(cfg, root / "run", verbose=False)
    return root / "run"


def test_export_target_mcu(run_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    from hmtl.cli.main import main as hmtl

    out = tmp_path / "out"
    assert hmtl(["export", str(run_dir), "--target", "mcu", "--out", str(out)]) == 0
    report = json.loads((out / "export.json").read_text())
    entry = report["targets"]["mcu"]
    flat = (out / "model.tflite").read_bytes()
    assert entry["bytes"] == len(flat) and flat[4:8] == b"TFL3"
    assert entry["peak_activation_bytes"] == entry["quantization"]["arena_bytes"] > 0
    assert entry["quantization"]["calibration"]["split"] == "train"
    assert set(entry["metrics"]) == set(report["metrics"]["torch"])
    for task, share in entry["agreement"].items():
        assert 0.0 <= share <= 1.0, task
    assert "random_other_length" not in report["parity"]["tflm"]      # one fixed length
    # the file on its own runs in TFLM, and its latency is measured there
    lat = tflm.measure_tflm_latency(out / "model.tflite", runs=5, warmup=1)
    assert lat["median_ms"] > 0


def test_export_mcu_refuses_waveform_input(run_dir, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from hmtl.cli.main import main as hmtl

    assert hmtl(["export", str(run_dir), "--target", "mcu", "--waveform", "--exporter",
                 "torchscript", "--out", str(tmp_path / "o")]) == 2
    assert "--target mcu takes features" in capsys.readouterr().err
