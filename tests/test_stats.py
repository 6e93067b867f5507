"""The statistics of comparisons (utils/stats.py) on simulated per-seed, per-clip data whose
true difference is known. Each model's training adds its own noise (two trainings of one seed
that differ only in float rounding differ by 2-4 points on a few hundred clips, BENCHMARKS.md),
so the simulation draws it independently for the two models compared."""

import numpy as np
import pytest

from hmtl.utils.stats import Comparison, compare_paired, holm, paired_t, unit_means


def simulate(rng, delta, seeds=3, clips=200, tasks=2, training_sd=0.02, trees=1):
    """Per task a (seeds·trees × clips) array of per-clip differences between two models'
    correctness (−1, 0, 1), and the rows' units: model B (the reference, one training per seed)
    is right with probability p, model A (`trees` trainings per seed) with p − delta; each
    training shifts its own accuracy by N(0, training_sd). The true mean difference is delta."""
    out, units = [], []
    for _ in range(tasks):
        p = rng.uniform(0.6, 0.9)
        easy = 0.2 * (rng.uniform(0, 1, size=clips) - 0.5)          # clips differ in difficulty
        rows, labels = [], []
        for s in range(seeds):
            b = rng.uniform(0, 1, clips) < np.clip(p + rng.normal(0, training_sd) + easy, 0, 1)
            for _ in range(trees):
                a = rng.uniform(0, 1, clips) < np.clip(p - delta + rng.normal(0, training_sd)
                                                       + easy, 0, 1)
                rows.append(b.astype(float) - a.astype(float))
                labels.append(s)
        out.append(np.array(rows))
        units.append(labels)
    return out, units


@pytest.mark.parametrize("seeds, trees, training_sd", [(3, 1, 0.02), (3, 10, 0.04), (5, 1, 0.04)])
def test_the_interval_covers_a_known_difference_at_about_its_nominal_rate(seeds, trees,
                                                                          training_sd):
    """RAVDESS-like: 5 tasks, 216 test clips, 2-4 points of training noise. Ten random trees
    per seed against one reference training is the case the former bootstrap (every row a
    unit) covered only 176 times in 200."""
    rng = np.random.default_rng(seeds * 100 + trees)
    covered = 0
    for _ in range(200):
        diffs, units = simulate(rng, 0.05, seeds=seeds, trees=trees, training_sd=training_sd,
                                tasks=5, clips=216)
        c = compare_paired(diffs, units)
        covered += c.low <= 0.05 <= c.high
    assert covered >= 180                  # 95 % nominal: 190 expected, 180 is 3 SE below


def test_trainings_of_one_seed_count_as_one_unit():
    """Ten random trees at a seed share the reference's training at that seed: treating them as
    ten independent units makes the interval too narrow (the error this replaced)."""
    rng = np.random.default_rng(7)
    diffs, units = simulate(rng, 0.0, seeds=3, trees=10)
    grouped = compare_paired(diffs, units)
    assert grouped.units == 3
    as_rows = compare_paired(diffs)                                   # 30 "units"
    assert as_rows.units == 30 and (as_rows.high - as_rows.low) < (grouped.high - grouped.low)
    means = unit_means(diffs, units)
    assert means[0].shape == (3, 200)
    assert means[0][1] == pytest.approx(diffs[0][10:20].mean(axis=0))


def test_the_p_value_is_not_small_under_the_null():
    rng = np.random.default_rng(1)
    small = sum(compare_paired(*simulate(rng, 0.0)).p < 0.05 for _ in range(200))
    assert small <= 18                     # about 5 % of 200 expected; never a habit


def test_a_real_difference_is_shown_and_none_is_not():
    rng = np.random.default_rng(2)
    big = compare_paired(*simulate(rng, 0.15, seeds=3, clips=300))
    assert big.shown and big.low > 0 and big.p < 0.01
    none = compare_paired(*simulate(rng, 0.0, seeds=3, clips=300))
    assert not none.shown


def test_with_three_seeds_the_seed_part_uses_t_with_two_degrees_of_freedom():
    """Task-level values (one column), three units: exactly the one-sample t interval."""
    from scipy import stats

    values = np.array([[0.01], [0.05], [0.03]])
    estimate, low, high, p = paired_t([values])
    se = values.std(ddof=1) / np.sqrt(3)
    assert estimate == pytest.approx(0.03)
    assert high - estimate == pytest.approx(stats.t.ppf(0.975, 2) * se)
    assert p == pytest.approx(stats.ttest_1samp(values[:, 0], 0.0).pvalue)


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    c = Comparison(0.02, 0.001, 0.04, 0.01, 3, 200, p_holm=0.2)
    assert not c.shown                     # interval excludes 0, corrected p does not pass


def test_a_single_value_cannot_show_a_difference():
    one = [np.array([[0.2]])]
    c = compare_paired(one)
    assert c.p == 1.0 and not c.shown and c.estimate == pytest.approx(0.2)


def simulate_splits(rng, delta, splits=5, seeds=5, tasks=5, split_sd=0.01, training_sd=0.01):
    """Per task a (splits·seeds × 1) array of task-level differences and each row's split: a
    split's training and test clips move the difference of every seed of that split alike
    (N(0, split_sd)), each training adds its own N(0, training_sd)."""
    out, labels = [], []
    for _ in range(tasks):
        rows, where = [], []
        for s in range(splits):
            shared = rng.normal(0, split_sd)
            for _ in range(seeds):
                rows.append([delta + shared + rng.normal(0, training_sd)])
                where.append((s, len(where)))
        out.append(np.array(rows))
        labels.append(where)
    return out, labels


def test_over_splits_the_split_is_the_unit():
    """A split's seeds share what the split drew: counted as independent units (25 for 5 × 5),
    the interval covers a known difference far below its nominal rate; one unit per split (its
    seeds averaged, t over the splits) covers it at about that rate. evidence.py pairs this way."""
    rng = np.random.default_rng(7)
    by_split = by_pair = 0
    for _ in range(200):
        diffs, where = simulate_splits(rng, 0.015)
        splits = compare_paired(diffs, [[s for s, _ in w] for w in where])
        pairs = compare_paired(diffs, where)
        assert splits.units == 5 and pairs.units == 25
        by_split += splits.low <= 0.015 <= splits.high
        by_pair += pairs.low <= 0.015 <= pairs.high
    assert by_split >= 180 and by_pair < 170


def _method(accuracy, units, tasks=("t",)):
    """A made-up method: one training per (split, seed, draw) in `units`, each task's test
    accuracy accuracy(split, seed, draw)."""
    from hmtl.records import MethodResult, TrainRecord

    records = [TrainRecord(key=f"{split}-{seed}-{draw}", tag="x", tasks=list(tasks), tree=[],
                           seed=seed, params=1, macs=1,
                           val={t: {"accuracy": 0.5, "n": 100} for t in tasks},
                           test={t: {"accuracy": accuracy(split, seed, draw), "n": 100}
                                 for t in tasks},
                           best_epoch=1, epochs=1, seconds=1.0, device="cpu",
                           extra={"split": split})
               for split, seed, draw in units]
    return MethodResult(params=1, nonzero_params=1, macs=1,
                        metrics={t: {"accuracy": 0.8, "primary": "accuracy"} for t in tasks},
                        primary="accuracy", per_seed=[], records={t: records for t in tasks})


def test_evidence_pairs_seeds_within_a_split_and_counts_splits_as_units():
    from hmtl.evidence import compare_methods

    units = [(split, seed, 0) for split in (0, 1, 2) for seed in (0, 1, 2)]
    reference = _method(lambda split, seed, _: 0.8 + 0.01 * seed, units)
    # the other method loses 1, 3, 5 points at splits 0, 1, 2 on average over its seeds, which
    # lose 0, 1 and 2 points more than each other within a split: paired by (split, seed)
    other = _method(lambda split, seed, _: 0.79 - 0.02 * split + 0.01 * seed
                    - 0.01 * (seed - 1), units)
    c = compare_methods({"hierarchical": reference, "other": other}, ["t"])
    c = c["methods"]["other"]["mean_drop"]
    assert c["units"] == 3 and c["estimate"] == pytest.approx(0.03)
    # three split means 1, 3, 5: their standard error 1.15 points, t with 2 degrees of freedom
    assert c["high"] - c["estimate"] == pytest.approx(4.303 * 0.02 / 3 ** 0.5, rel=1e-3)


def test_over_splits_each_seed_counts_once_whatever_its_number_of_trees():
    """Random trees: 3 trees at seed 0 of each split, 1 at seed 1; a seed's trees are one value,
    so the split's value is the mean of its two seeds, not of its four trainings."""
    from hmtl.evidence import compare_methods

    reference = _method(lambda *_: 0.8, [(split, seed, 0) for split in (0, 1) for seed in (0, 1)])
    trees = [(split, 0, draw) for split in (0, 1) for draw in range(3)] + \
        [(split, 1, 0) for split in (0, 1)]
    # seed 0's trees lose 2 points, seed 1's 6 (split 0) or 8 (split 1)
    other = _method(lambda split, seed, _: 0.78 if seed == 0 else 0.74 - 0.02 * split, trees)
    c = compare_methods({"hierarchical": reference, "random_tree": other}, ["t"])
    c = c["methods"]["random_tree"]["mean_drop"]
    assert c["units"] == 2 and c["estimate"] == pytest.approx((0.04 + 0.05) / 2)


def test_over_splits_a_task_paired_in_one_split_only_still_compares():
    """The unit is decided once for the comparison: a task whose trainings of the method exist in
    one split only pairs there, and the tasks share the split that both have."""
    from hmtl.evidence import compare_methods

    both = [(split, seed, 0) for split in (0, 1) for seed in (0, 1)]
    reference = _method(lambda *_: 0.8, both, tasks=("a", "b"))
    other = _method(lambda *_: 0.75, both, tasks=("a", "b"))
    other.records["b"] = [r for r in other.records["b"] if r.extra["split"] == 0]
    c = compare_methods({"hierarchical": reference, "other": other}, ["a", "b"])
    c = c["methods"]["other"]["mean_drop"]
    assert c["units"] == 1 and c["estimate"] == pytest.approx(0.05)
