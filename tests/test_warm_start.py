import torch

from hmtl.config import ModelConfig
from hmtl.models import TreeSpec, build_model
from hmtl.pipeline import run_pipeline
from hmtl.testing import tiny_config
from hmtl.training.warm import load_from_single_models


def test_pair_model_takes_blocks_and_heads_from_the_single_models():
    cfg = ModelConfig(blocks=3, widths=[4, 6, 5], kernel_size=3)
    singles = {}
    for i, t in enumerate(("a", "b")):
        torch.manual_seed(i)
        singles[t] = build_model(TreeSpec.single(t, 3), cfg, {"a": 2, "b": 3}, 8, 20).state_dict()
    pair = build_model(TreeSpec.pair("a", "b", 2, 3), cfg, {"a": 2, "b": 3}, 8, 20)
    load_from_single_models(pair, singles)
    state = pair.state_dict()
    for d in (0, 1):                                     # shared: the first task's blocks
        for name, v in singles["a"].items():
            if name.startswith(f"blocks.{d}.0."):
                assert torch.equal(state[name], v)
    for g, t in enumerate(("a", "b")):                   # depth 3: each task's own block
        for name, v in singles[t].items():
            if name.startswith("blocks.2.0."):
                assert torch.equal(state[name.replace("blocks.2.0.", f"blocks.2.{g}.")], v)
        assert torch.equal(state[f"heads.{t}.weight"], singles[t][f"heads.{t}.weight"])


def test_warm_started_sweep_runs_and_is_reported(corpus, tmp_path):
    cfg = tiny_config(corpus, tasks=("vowel", "pitch", "rhythm"),
                      overrides=["search.warm_start=true", "search.warm_epochs=2"])
    r = run_pipeline(cfg, tmp_path / "w", verbose=False, until="stage2")
    assert r["search"]["warm_start"] is True
    tags = [p.read_text() for p in (tmp_path / "w" / "runs").glob("*/job.json")]
    warm = [t for t in tags if '"WarmStartJob"' in t]
    assert warm and all('"warm_from"' in t and '"epochs": 2' in t for t in warm)
