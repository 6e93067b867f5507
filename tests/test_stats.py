"""The statistics of comparisons (utils/stats.py) on simulated per-seed, per-clip data whose
true difference is known."""

import numpy as np
import pytest

from hmtl.utils.stats import Comparison, clip_permutation_p, compare_paired, holm, paired_bootstrap


def simulate(rng, delta, seeds=3, clips=200, tasks=2, seed_sd=0.02):
    """Per task a (seeds × clips) array of per-clip differences between two models' correctness
    (−1, 0, 1): model B is right with probability p, model A with p − delta, each seed shifting
    both a little; the true mean difference is delta."""
    out = []
    for _ in range(tasks):
        p = rng.uniform(0.6, 0.9)
        shift = rng.normal(0, seed_sd, size=(seeds, 1))
        easy = rng.uniform(0, 1, size=(1, clips))                 # clips differ in difficulty
        b = (rng.uniform(0, 1, size=(seeds, clips)) < np.clip(p + shift + 0.2 * (easy - 0.5), 0, 1))
        a = (rng.uniform(0, 1, size=(seeds, clips)) < np.clip(p - delta + shift + 0.2 * (easy - 0.5), 0, 1))
        out.append(b.astype(float) - a.astype(float))
    return out


def test_the_interval_covers_a_known_difference_at_about_its_nominal_rate():
    rng = np.random.default_rng(0)
    covered = 0
    for i in range(100):
        diffs = simulate(rng, 0.05)
        _, low, high = paired_bootstrap(diffs, resamples=1000, seed=i)
        covered += low <= 0.05 <= high
    assert covered >= 90


def test_the_permutation_p_value_is_not_small_under_the_null():
    rng = np.random.default_rng(1)
    small = sum(clip_permutation_p(simulate(rng, 0.0), resamples=999, seed=i) < 0.05
                for i in range(60))
    assert small <= 8                      # about 5 % of 60 expected; never a habit


def test_a_real_difference_is_shown_and_none_is_not():
    rng = np.random.default_rng(2)
    big = compare_paired(simulate(rng, 0.15, seeds=3, clips=300))
    assert big.shown and big.low > 0 and big.p < 0.01
    none = compare_paired(simulate(rng, 0.0, seeds=3, clips=300))
    assert not (none.low > 0 or none.high < 0) or none.p > 0.01


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    c = Comparison(0.02, 0.001, 0.04, 0.01, 3, 200, p_holm=0.2)
    assert not c.shown                     # interval excludes 0, corrected p does not pass


def test_a_single_value_cannot_show_a_difference():
    one = [np.array([[0.2]])]
    c = compare_paired(one)
    assert c.p == 1.0 and not c.shown and c.estimate == pytest.approx(0.2)
