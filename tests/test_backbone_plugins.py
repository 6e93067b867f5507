"""Your own backbone: registered from a file or module named in model.imports, its costs measured
(or its formulas checked), its source part of every training's identity, and seen by the worker
processes of an executor (examples/custom_backbone is the documented example this runs)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from hmtl.config import ModelConfig, load_config
from hmtl.errors import HmtlError
from hmtl.models import TreeSpec, build_model
from hmtl.models.backbones import (Backbone, TimeConvBackbone, get_backbone, measured_costs,
                                   model_identity, register_backbone)
from hmtl.testing import TINY

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_backbone" / "my_backbones.py"


def test_builtin_identity_has_no_new_keys():
    """The new model keys enter a training's identity only when set: old run folders keep their
    trainings (the cache is content-addressed)."""
    identity = model_identity(ModelConfig(imports=["somewhere.py"]))
    assert set(identity) == {"backbone", "blocks", "width", "widths", "kernel_size", "dropout"}
    assert model_identity(ModelConfig(args={"a": 1}))["args"] == {"a": 1}


def test_measured_costs_match_the_builtin_formulas():
    for name in ("tc_cnn", "ds_cnn"):
        b = get_backbone(ModelConfig(backbone=name, widths=[8, 12, 16, 16]), 24, 51)
        for d in range(1, 5):
            assert measured_costs(lambda: b.block(d), b.shapes[d - 1]) == \
                (b.block_params(d), b.block_macs(d))


def test_measuring_a_backbone_leaves_the_random_stream_alone():
    """Costs are checked (and user backbones traced) the first time a process meets a config:
    that must not shift the initial weights of the model it trains next, or results would
    depend on which executor ran which job first."""
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    get_backbone(ModelConfig(widths=[7, 9, 11, 13]), 24, 51)          # a shape never checked
    get_backbone(ModelConfig(backbone="dilated_tc", imports=[str(EXAMPLE)], widths=[5, 5, 6, 6]),
                 24, 51)
    assert torch.equal(torch.rand(3), expected)


def test_wrong_formula_is_refused():
    @register_backbone("test_wrong_formula")
    class Wrong(TimeConvBackbone):
        def block_params(self, d):
            return super().block_params(d) + 1

    with pytest.raises(HmtlError, match=r"test_wrong_formula.*block_params\(1\)"):
        get_backbone(ModelConfig(backbone="test_wrong_formula"), 24, 51)


def test_unmeasurable_block_asks_for_a_formula():
    @register_backbone("test_gru")
    class Recurrent(Backbone):
        def __init__(self, cfg, c, t):
            super().__init__(cfg, c, t)
            self.shapes = [(t, c)] + [(t, w) for w in self.widths]

        def block(self, d):
            return nn.GRU(self.shapes[d - 1][-1], self.widths[d - 1], batch_first=True)

    with pytest.raises(HmtlError, match="cannot measure the MACs of a GRU"):
        get_backbone(ModelConfig(backbone="test_gru", blocks=1), 24, 51).block_macs(1)


def test_example_backbone_from_a_file(tmp_path):
    cfg = ModelConfig(backbone="dilated_tc", imports=[str(EXAMPLE)], widths=[8, 8, 12, 12],
                      args={"dilation_growth": 3})
    b = get_backbone(cfg, 24, 51)
    assert b.growth == 3 and len(b.shapes) == 5
    spec = TreeSpec.flat(["a", "b"], 4)
    model = build_model(spec, cfg, {"a": 3, "b": 2}, 24, 51)
    assert model.cost()[0] == sum(p.numel() for p in model.parameters())
    assert model(torch.randn(2, 24, 51))["a"].shape == (2, 3)
    assert model_identity(cfg)["code"].startswith("sha256:")


def test_missing_import_names_the_key(tmp_path):
    cfg = ModelConfig(backbone="nowhere", imports=[str(tmp_path / "missing.py")])
    with pytest.raises(HmtlError, match="model.imports: .*missing.py not found"):
        get_backbone(cfg, 24, 51)
    with pytest.raises(HmtlError, match="model.backbone: unknown backbone 'nowhere'"):
        get_backbone(ModelConfig(backbone="nowhere"), 24, 51)


def _code_of(path: Path) -> str:
    script = ("import json, sys; from hmtl.config import ModelConfig; "
              "from hmtl.models.backbones import model_identity; "
              "print(model_identity(ModelConfig(backbone='dilated_tc', imports=[sys.argv[1]]))['code'])")
    return subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_editing_the_backbone_changes_the_identity(tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(EXAMPLE.read_text())
    before = _code_of(plugin)
    assert _code_of(plugin) == before                      # stable across processes
    plugin.write_text(EXAMPLE.read_text().replace("self.growth ** (d - 1)", "self.growth ** d"))
    assert _code_of(plugin) != before


@pytest.mark.slow
def test_custom_backbone_runs_with_worker_processes(corpus, tmp_path):
    """`local:2` spawns fresh processes: they find the backbone through model.imports, relative
    to the config file."""
    (tmp_path / "my_backbones.py").write_text(EXAMPLE.read_text())
    raw = {k: dict(v) for k, v in TINY.items()}
    raw["data"] = {"manifest": str(corpus), "tasks": ["vowel", "pitch"]}
    raw["model"].update(backbone="dilated_tc", imports=["my_backbones.py"],
                        args={"dilation_growth": 2})
    raw["methods"] = ["independent", "hierarchical"]
    config = tmp_path / "custom.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert load_config(config).model.imports == [str(tmp_path / "my_backbones.py")]
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "hmtl.cli.main", "run", str(config), "--out",
                           str(out), "--executor", "local:2", "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    hier = results["methods"]["hierarchical"]
    assert hier["params"] > 0 and hier["macs"] > 0
    job = json.loads(next((out / "runs").glob("*/job.json")).read_text())
    assert job["model"]["backbone"] == "dilated_tc" and job["model"]["code"].startswith("sha256:")


def test_only_backbones_that_say_so_are_packed():
    from hmtl.config import TrainConfig
    from hmtl.training.job import TrainJob
    from hmtl.training.packed import can_pack

    def job(model):
        return TrainJob(spec=TreeSpec.flat(["a"], 4), seed=0, model=model, train=TrainConfig(),
                        weights=(("a", 1.0),), data_key="d")

    assert can_pack(job(ModelConfig(backbone="tc_cnn")))
    assert not can_pack(job(ModelConfig(backbone="dilated_tc", imports=[str(EXAMPLE)])))


def test_backbone_from_an_installed_entry_point(tmp_path, monkeypatch):
    """A package declares `[project.entry-points."hmtl.backbones"] ep_tc = "mod:Class"`: the
    name is found without model.imports (here a distribution faked on sys.path)."""
    (tmp_path / "ep_backbones.py").write_text(
        "from hmtl.models.backbones import TimeConvBackbone\n"
        "class EntryPointTC(TimeConvBackbone):\n    version = '1'\n")
    info = tmp_path / "ep_backbones-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-backbones\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[hmtl.backbones]\nep_tc = ep_backbones:EntryPointTC\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = ModelConfig(backbone="ep_tc")
    assert type(get_backbone(cfg, 24, 51)).__name__ == "EntryPointTC"
    assert model_identity(cfg)["code"] == "version:1"
