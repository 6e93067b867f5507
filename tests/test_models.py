"""Params and MACs are computed from the spec; here they are checked against the built model
(numel and forward hooks) and against counts done by hand."""

import itertools

import pytest
import torch
from torch import nn

from hmtl.config import ModelConfig
from hmtl.models import TreeSpec, build_model
from hmtl.models.backbones import BACKBONES, get_backbone

CLASSES = {"a": 3, "b": 2, "c": 5}
SPECS = [
    TreeSpec.independent(("a", "b", "c"), 3),
    TreeSpec.flat(("a", "b", "c"), 3),
    TreeSpec.pair("a", "c", 2, 3),
    TreeSpec.from_json(("a", "b", "c"), [[["a", "b", "c"]], [["a", "b"], ["c"]], [["a"], ["b"], ["c"]]]),
]


def hook_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Count conv/linear multiply-accumulates from the shapes seen in a real forward pass."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            k = 1
            for s in mod.kernel_size:
                k *= s
            total += out[0].numel() * (mod.in_channels // mod.groups) * k
        elif isinstance(mod, nn.Linear):
            total += mod.in_features * mod.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total


@pytest.mark.parametrize("backbone, spec", list(itertools.product(sorted(BACKBONES), SPECS)))
def test_params_and_macs_match_the_built_model(backbone, spec):
    cfg = ModelConfig(backbone=backbone, blocks=3, widths=[8, 12, 6], kernel_size=5)
    classes = {t: CLASSES[t] for t in spec.tasks}
    model = build_model(spec, cfg, classes, in_channels=20, frames=41)
    params, macs = model.cost()
    assert params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert macs == hook_macs(model, torch.randn(1, 20, 41))
    out = model(torch.randn(4, 20, 41))
    assert {t: o.shape for t, o in out.items()} == {t: (4, n) for t, n in classes.items()}


def test_hand_count_tc_cnn():
    # 2 blocks, 10 mel channels in, widths 4 and 6, kernel 3, 8 frames; two tasks, 2 and 3 classes.
    cfg = ModelConfig(backbone="tc_cnn", blocks=2, widths=[4, 6], kernel_size=3)
    spec = TreeSpec.pair("a", "b", 1, 2)
    model = build_model(spec, cfg, {"a": 2, "b": 3}, in_channels=10, frames=8)
    block1 = 10 * 4 * 3 + 2 * 4            # conv + BN: 128
    block2 = 4 * 6 * 3 + 2 * 6             # 84
    heads = (6 * 2 + 2) + (6 * 3 + 3)      # 35
    assert model.cost()[0] == block1 + 2 * block2 + heads == 331
    # MACs: block 1 on 8 frames, pooled to 4; block 2 on 4 frames (twice); heads
    macs1 = 8 * 4 * 10 * 3                 # 960
    macs2 = 4 * 6 * 4 * 3                  # 288
    assert model.cost()[1] == macs1 + 2 * macs2 + 6 * 2 + 6 * 3 == 1566


def test_hand_count_ds_cnn():
    cfg = ModelConfig(backbone="ds_cnn", blocks=2, widths=[4, 6])
    model = build_model(TreeSpec.single("a", 2), cfg, {"a": 2}, in_channels=16, frames=16)
    block1 = 1 * 4 * 9 + 2 * 4                       # 3x3 conv from 1 channel + BN
    block2 = 4 * 9 + 2 * 4 + 4 * 6 + 2 * 6           # depthwise + BN + pointwise + BN
    assert model.cost()[0] == block1 + block2 + 6 * 2 + 2
    # block 1: stride 2 -> 8x8 output; block 2: stride 1 (8 < 16) -> 8x8
    assert model.cost()[1] == 64 * 4 * 9 + (64 * 4 * 9 + 64 * 6 * 4) + 12


def test_independent_params_equal_the_sum_of_single_models():
    cfg = ModelConfig(blocks=3, width=8)
    bb = get_backbone(cfg, 20, 41)
    from hmtl.models import tree_cost

    total = tree_cost(TreeSpec.independent(("a", "b", "c"), 3), bb, CLASSES)
    singles = [tree_cost(TreeSpec.single(t, 3), bb, CLASSES) for t in CLASSES]
    assert total == tuple(map(sum, zip(*singles)))


def test_input_norm_is_a_buffer_not_a_parameter():
    model = build_model(TreeSpec.single("a", 2), ModelConfig(blocks=2, width=4), {"a": 2}, 10, 20)
    model.set_input_stats(torch.full((10,), 3.0), torch.full((10,), 2.0))
    assert "norm.mean" in model.state_dict()
    assert all("norm" not in n for n, _ in model.named_parameters())
