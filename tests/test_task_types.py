"""Task types beyond classification: regression (MAE, Pearson r) and verification (EER on trial
pairs), in metrics, drops, data preparation and a mixed-type run of the whole method."""

import json

import numpy as np
import pytest
import torch

from hmtl.config import load_config
from hmtl.data.prepare import build_trials, prepare_dataset
from hmtl.errors import HmtlError
from hmtl.records import MethodResult
from hmtl.results import compare
from hmtl.pipeline import run_pipeline
from hmtl.tasks import Regression, TaskInfo, equal_error_rate
from hmtl.testing import tiny_config
from hmtl.metrics import drop

MIXED = [{"name": "vowel"},
         {"name": "f0", "type": "regression", "tolerance": 5.0},
         {"name": "voice", "type": "verification", "column": "pitch", "embedding_dim": 8,
          "trials": 200}]


def test_eer_of_perfect_and_random_scorers():
    rng = np.random.default_rng(0)
    same = rng.random(5000) < 0.5
    assert equal_error_rate(same + 0.1 * rng.random(5000), same) == 0.0
    assert abs(equal_error_rate(rng.random(5000), same) - 0.5) < 0.03
    # two unit Gaussians 2 apart: EER = Φ(-1) ≈ 0.159
    scores = np.where(same, rng.normal(1, 1, 5000), rng.normal(-1, 1, 5000))
    assert abs(equal_error_rate(scores, same) - 0.1587) < 0.02
    assert equal_error_rate(-scores, same) > 0.8          # a scorer upside down


def test_regression_metrics():
    info = TaskInfo(mean=10.0, std=2.0, mad=1.5)
    truth = np.array([8.0, 10.0, 12.0, 14.0])
    out = torch.tensor([[-1.0], [0.0], [1.0], [1.5]])     # standardised: 8, 10, 12, 13
    m = Regression().evaluate(out, None, truth, info, None)
    # by hand: deviations (-2.75, -.75, 1.25, 2.25) and (-3, -1, 1, 3): r = 17 / sqrt(14.75 * 20)
    assert m["mae"] == pytest.approx(0.25) and m["pearson_r"] == pytest.approx(17 / np.sqrt(14.75 * 20))
    assert Regression().goodness(m, info) == pytest.approx(1 - 0.25 / 1.5)


def test_drops_have_the_sign_of_worse_for_every_direction():
    assert drop(0.90, 0.80, "accuracy") == pytest.approx(0.10)     # accuracy fell: worse
    assert drop(0.10, 0.20, "eer") == pytest.approx(0.10)          # EER rose: worse
    assert drop(5.0, 4.0, "mae") == pytest.approx(-1.0)            # MAE fell: better
    ref = {"metrics": {"a": {"accuracy": 0.9, "primary": "accuracy"},
                       "v": {"eer": 0.10, "primary": "eer"},
                       "r": {"mae": 5.0, "primary": "mae"}}, "params": 100}
    new = {"metrics": {"a": {"accuracy": 0.8}, "v": {"eer": 0.2}, "r": {"mae": 4.0}},
           "params": 50}
    c = compare(MethodResult.from_json(new), MethodResult.from_json(ref), ["a", "v", "r"])
    assert c["drops"] == pytest.approx({"a": 0.1, "v": 0.1, "r": -1.0})
    assert c["mean_drop"] == pytest.approx(0.1)          # fractions only; MAE is in its own unit
    assert c["delta_m"] == pytest.approx(100 * (-0.1 / 0.9 - 1.0 + 0.2) / 3)


def test_regression_needs_its_own_tolerance():
    with pytest.raises(HmtlError, match="regression task needs its own tolerance"):
        load_config(raw={"data": {"tasks": [{"name": "age", "type": "regression"}]}})


def test_non_numeric_regression_label_names_the_row(corpus, tmp_path):
    bad = tmp_path / "m.csv"
    lines = corpus.read_text().splitlines()
    rows = [lines[0]] + [f"{corpus.parent / l.split(',', 1)[0]},{l.split(',', 1)[1]}" for l in lines[1:]]
    rows[5] = rows[5].rsplit(",", 1)[0] + ",tall"
    bad.write_text("\n".join(rows) + "\n")
    with pytest.raises(HmtlError, match="row 6: task 'f0'.*'tall' is not a number"):
        prepare_dataset(tiny_config(bad, tasks=MIXED[1:2]), tmp_path / "data")


def test_trials_are_balanced_and_within_the_split():
    ids = np.array([0, 0, 1, 1, 2, 2, 3, 3, -1, 0])
    in_split = np.array([1, 1, 1, 1, 1, 1, 0, 0, 1, 0], dtype=bool)
    t = build_trials(ids, in_split, 100, 0, "x")
    assert set(t[:, 0]) | set(t[:, 1]) <= set(np.flatnonzero(in_split & (ids >= 0)))
    assert (ids[t[:, 0]] == ids[t[:, 1]]).tolist() == (t[:, 2] == 1).tolist()
    assert 0.3 < t[:, 2].mean() < 0.7
    with pytest.raises(HmtlError, match="needs at least 2 identities"):
        build_trials(np.array([0, 1, 2]), np.ones(3, bool), 10, 0, "x")


def test_group_split_gives_speaker_disjoint_trials(corpus, tmp_path):
    manifest = tmp_path / "m.csv"
    lines = corpus.read_text().splitlines()
    # each clip's "speaker" is its rhythm × height pair; groups = speakers
    head = lines[0].split(",")
    rows = [lines[0] + ",speaker,group"]
    for l in lines[1:]:
        cells = dict(zip(head, l.split(",")))
        spk = f"{cells['rhythm']}-{cells['height']}"
        rows.append(f"{corpus.parent / cells['path']},{l.split(',', 1)[1]},{spk},{spk}")
    manifest.write_text("\n".join(rows) + "\n")
    cfg = tiny_config(manifest, tasks=[{"name": "speaker", "type": "verification", "trials": 100}],
                      data={"split_by": "group", "split_ratios": [0.5, 0.25, 0.25]})
    data = prepare_dataset(cfg, tmp_path / "data")
    train_ids = set(data.y[data.split == 0, 0].tolist())
    for split in ("val", "test"):
        t = data.trials["speaker"][split]
        assert (tmp_path / "data" / f"trials-0-{split}.npy").exists()
        assert not set(data.y[t[:, 0], 0].tolist()) & train_ids      # unseen speakers only


@pytest.mark.slow
def test_a_mixed_type_tree_trains_and_reports(corpus, tmp_path):
    cfg = tiny_config(corpus, tasks=MIXED, overrides=["train.epochs=4"])
    r = run_pipeline(cfg, tmp_path / "run", verbose=True)      # the status lines too
    h = r["methods"]["hierarchical"]["metrics"]
    assert set(h["vowel"]) >= {"accuracy", "macro_f1", "accuracy_std"} and h["vowel"]["primary"] == "accuracy"
    assert set(h["f0"]) >= {"mae", "pearson_r", "mae_std"} and h["f0"]["primary"] == "mae"
    assert set(h["voice"]) >= {"eer", "eer_std"} and 0 <= h["voice"]["eer"] <= 1
    assert r["methods"]["independent"]["primary"] == {"vowel": "accuracy", "f0": "mae", "voice": "eer"}
    for entry in r["compatibility"]:
        assert all(np.isfinite(v) for d in entry["drops"].values() for v in d.values())
    md = (tmp_path / "run" / "results.md").read_text()
    assert "f0 MAE" in md and "voice EER %" in md and "vowel acc %" in md
    # the trained verification model's embedding head has embedding_dim outputs, no margin classifier
    state = next((tmp_path / "run" / "runs").glob("*/model.pt"))
    assert json.loads((tmp_path / "run" / "results.json").read_text())["tasks"] == ["vowel", "f0", "voice"]
    assert state.exists()


@pytest.mark.slow
def test_every_baseline_handles_every_task_type(corpus, tmp_path):
    methods = ["independent", "flat", "hierarchical", "lth", "lt4rec", "branched", "random_tree",
               "flat_matched"]
    cfg = tiny_config(corpus, tasks=MIXED, overrides=["train.epochs=2", f"methods={methods}",
                                                      "baselines.random_draws=1"])
    r = run_pipeline(cfg, tmp_path / "run", verbose=False)
    assert list(r["methods"]) == methods
    for name, entry in r["methods"].items():
        m = entry["metrics"]
        assert {m["vowel"]["primary"], m["f0"]["primary"], m["voice"]["primary"]} == \
            {"accuracy", "mae", "eer"}, name
        assert np.isfinite(entry["vs_independent"]["mean_drop"]), name
