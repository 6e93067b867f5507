"""The compatibility rule (search/compatibility.py) on made-up records: seed pairing, the noise
of the paired drop over seeds and clips, the one-clip floor, tolerances in each metric's unit."""

import math

import pytest

from hmtl.config import load_config
from hmtl.records import TrainRecord
from hmtl.search.compatibility import Rule, compatibility_depth
from hmtl.search.stage1 import Stage1


def record(task, seed, metrics):
    return TrainRecord(key="", tag="", tasks=[task], tree=[], seed=seed, params=0, macs=0,
                       val={task: metrics}, test={task: metrics}, best_epoch=1, epochs=1,
                       seconds=0.0, device="cpu")


def accuracy(task, seed, per_clip: str):
    return record(task, seed, {"accuracy": per_clip.count("1") / len(per_clip),
                               "n": len(per_clip), "per_clip": per_clip})


def rule(references, tasks=("a",), **search):
    cfg = load_config(raw={"data": {"tasks": list(tasks)},
                           "search": {"tolerance": 0.01, "noise_z": 1.0, **search}})
    return Rule(cfg, Stage1(references))


def test_a_drop_of_one_clip_can_decide_less_than_one_cannot():
    ref = "1" * 50                                     # one clip of 50 is 2 points
    one_wrong = "0" + "1" * 49
    r = rule({"a": [accuracy("a", s, ref) for s in (0, 1)]}, tolerance=0.0, noise_z=0.0)
    whole = r.judge("a", [accuracy("a", 0, one_wrong), accuracy("a", 1, one_wrong)])
    assert whole.drop == pytest.approx(0.02) and whole.clip == pytest.approx(0.02)
    assert not whole.compatible                        # exactly one clip, above τ = 0
    half = r.judge("a", [accuracy("a", 0, one_wrong), accuracy("a", 1, ref)])
    assert half.drop == pytest.approx(0.01) and half.compatible   # half a clip on average


def test_drops_pair_each_seed_with_its_own_isolated_model():
    refs = {"a": [record("a", 0, {"accuracy": 0.80}), record("a", 1, {"accuracy": 0.90})]}
    r = rule(refs, noise_z=0.0)
    v = r.judge("a", [record("a", 1, {"accuracy": 0.89}), record("a", 0, {"accuracy": 0.79})])
    assert v.drop == pytest.approx(0.01) and v.se == pytest.approx(0.0) and v.seeds == 2


def test_one_seed_takes_its_noise_from_the_decision_clips():
    ref = "1" * 100
    pair = "000" + "1" * 97                            # 3 points worse, 3 clips of 100
    refs = {"a": [accuracy("a", 0, ref)]}
    diffs = [1.0] * 3 + [0.0] * 97
    var = sum((d - 0.03) ** 2 for d in diffs) / 99
    v = rule(refs).judge("a", [accuracy("a", 0, pair)])
    assert v.se == pytest.approx(math.sqrt(var / 100))
    assert v.threshold == pytest.approx(0.01 + v.se) and not v.compatible     # 3 > 1 + 1.7
    assert rule(refs, noise_z=2.0).judge("a", [accuracy("a", 0, pair)]).compatible  # 3 ≤ 1 + 3.4


def test_seeds_and_clips_add_in_quadrature():
    refs = {"a": [accuracy("a", s, "1" * 10) for s in range(3)]}
    pairs = [accuracy("a", 0, "1" * 10), accuracy("a", 1, "0" + "1" * 9),
             accuracy("a", 2, "00" + "1" * 8)]
    v = rule(refs).judge("a", pairs)
    seeds = [0.0, 0.1, 0.2]
    clips = [2 / 3, 1 / 3] + [0.0] * 8                  # each clip's drop averaged over seeds
    m = sum(clips) / 10
    expected = math.sqrt(0.01 / 3 + sum((c - m) ** 2 for c in clips) / 9 / 10)
    assert v.drop == pytest.approx(sum(seeds) / 3) and v.se == pytest.approx(expected)


def test_a_regression_is_judged_in_its_own_unit_also_after_a_final_tolerance():
    tasks = [{"name": "age", "type": "regression", "tolerance": 2.0}, "a"]
    refs = {"age": [record("age", 0, {"mae": 5.0})], "a": [record("a", 0, {"accuracy": 0.9})]}
    r = rule(refs, tasks=tasks, noise_z=0.0, final_tolerance=0.05)
    assert r.tolerance("age") == 2.0 and r.tolerance("a") == 0.01
    final = Rule(r.cfg, r.stage1, final=True)
    assert final.tolerance("age") == 2.0 and final.tolerance("a") == 0.05   # fractions only
    assert r.judge("age", [record("age", 0, {"mae": 6.5})]).compatible      # 1.5 years ≤ 2
    worse = r.judge("age", [record("age", 0, {"mae": 7.5})])
    assert not worse.compatible and worse.clip == 0.0                       # no clip floor
    assert r.comparable("age", 2.0) == pytest.approx(0.01)                  # for synergy


def test_compatibility_depth_is_the_compatible_prefix():
    assert compatibility_depth({1: True, 2: True, 3: False, 4: True}) == 2
    assert compatibility_depth({1: False, 2: True}) == 0
    assert compatibility_depth({1: True, 2: True}) == 2
