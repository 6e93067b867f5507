"""Stages 2 and 3 on made-up measurements: the sweep's early exit, the tree from
compatibility depths, the budget and repair helpers."""

import itertools
import random
from types import SimpleNamespace

import pytest

from hmtl.config import load_config
from hmtl.models import TreeSpec
from hmtl.records import TrainRecord
from hmtl.search.context import Context
from hmtl.search.stage1 import Stage1
from hmtl.search.stage2 import DepthOutcome, PairOutcome, run_stage2
from hmtl.search.stage3 import complete_linkage, cut, detach, tree_from_pairs

TASKS = ["a", "b", "c", "d"]


class TableExecutor:
    """Answers every pair job from a table of accuracies by (pair, depth)."""

    def __init__(self, table):
        self.table = table
        self.jobs = []

    def run(self, jobs, folder, desc="", on_record=None):
        out = []
        for job in jobs:
            self.jobs.append(job)
            if len(job.spec.tasks) == 1:                      # an isolated model: the reference
                out.append(record(list(job.spec.tasks), {job.spec.tasks[0]: {"accuracy": 0.9}},
                                  job.seed))
                continue
            a, b = job.spec.tasks
            k = job.spec.shared_depth(a, b)
            acc = self.table[(a, b)][k]
            out.append(record([a, b], {a: {"accuracy": acc[0]}, b: {"accuracy": acc[1]}},
                              job.seed))
        return out


def record(tasks, val, seed=0):
    """A made-up training: only its tasks, seed and validation metrics matter here."""
    return TrainRecord(key="", tag="", tasks=tasks, tree=[], seed=seed, params=0, macs=0, val=val,
                       test=val, best_epoch=1, epochs=1, seconds=1.0, device="cpu")


def context(executor, **search):
    cfg = load_config(raw={"data": {"tasks": TASKS}, "model": {"blocks": 3},
                           "search": {"seeds": 1, "tolerance": 0.01, **search}})
    return Context(cfg, SimpleNamespace(key="k"), None, executor, verbose=False)


def stage1(acc=0.9, seeds=1):
    return Stage1({t: [record([t], {t: {"accuracy": acc}}, s) for s in range(seeds)] for t in TASKS})


def table_from_k(K):
    """Pair accuracies that are fine up to depth K and 5 points worse after."""
    return {(a, b): {k: (0.9, 0.9) if k <= K[(a, b)] else (0.85, 0.9) for k in (1, 2, 3)}
            for a, b in itertools.combinations(TASKS, 2)}


def test_early_exit_skips_deeper_depths_and_says_why():
    K = {("a", "b"): 3, ("a", "c"): 0, ("a", "d"): 1, ("b", "c"): 2, ("b", "d"): 0, ("c", "d"): 3}
    ex = TableExecutor(table_from_k(K))
    pairs = run_stage2(context(ex), stage1())
    got = {p.tasks: p.compatibility_depth for p in pairs}
    assert got == K
    # trained: K+1 depths (up to the first failure), capped at L
    assert len(ex.jobs) == sum(min(k + 1, 3) for k in K.values())
    ac = next(p for p in pairs if p.tasks == ("a", "c"))
    assert not ac.depths[2].trained and "incompatible at depth 1" in ac.depths[2].skipped
    assert ac.to_json()["skipped"]["3"].startswith("incompatible at depth 1")


def test_without_early_exit_every_depth_is_trained_and_K_is_a_prefix():
    table = table_from_k({p: 3 for p in itertools.combinations(TASKS, 2)})
    table[("a", "b")][1] = (0.8, 0.9)            # incompatible at 1, fine at 2 and 3
    ex = TableExecutor(table)
    pairs = run_stage2(context(ex, sweep="exhaustive"), stage1())
    assert len(ex.jobs) == 6 * 3
    assert next(p for p in pairs if p.tasks == ("a", "b")).compatibility_depth == 0


class SeedTable(TableExecutor):
    """Pair accuracies per seed: 0.9 − drop_s for the pair's first task, 0.9 for the second."""

    def __init__(self, drops):
        super().__init__({})
        self.drops = drops

    def run(self, jobs, folder, desc="", on_record=None):
        out = []
        for job in jobs:
            self.jobs.append(job)
            a, b = job.spec.tasks
            out.append(record([a, b], {a: {"accuracy": 0.9 - self.drops[job.seed]},
                                       b: {"accuracy": 0.9}}, job.seed))
        return out


def test_noise_aware_rule_widens_tau_by_z_standard_errors_of_the_paired_drop():
    # paired drops of 0, 2 and 4 points: mean 2, standard error 2/√3 = 1.15 points
    strict = run_stage2(context(SeedTable([0.0, 0.02, 0.04]), seeds=3, noise_z=0.0), stage1(seeds=3))
    loose = run_stage2(context(SeedTable([0.0, 0.02, 0.04]), seeds=3, noise_z=1.0), stage1(seeds=3))
    assert all(p.compatibility_depth == 0 for p in strict)
    assert all(p.compatibility_depth == 3 for p in loose)   # 2 pts ≤ 1 + 1.15 pts
    decision = loose[0].to_json()["decisions"]["1"]["a"]
    assert decision["se"] == pytest.approx(0.02 / 3 ** 0.5, abs=1e-6) and decision["compatible"]
    assert decision["margin"] == pytest.approx(0.01 + 0.02 / 3 ** 0.5 - 0.02, abs=1e-6)


def outcomes(K, L=3, synergy=None):
    out = []
    for (a, b), k in K.items():
        depths = {d: DepthOutcome(True, {a: 0.0 if d <= k else 0.05, b: 0.0}, {},
                                  (synergy or {}).get((a, b), 0.0), d <= k) for d in range(1, L + 1)}
        out.append(PairOutcome((a, b), depths, {a: 0.01, b: 0.01}))
    return out


def test_tree_from_known_compatibility():
    K = {("a", "b"): 3, ("a", "c"): 1, ("a", "d"): 0, ("b", "c"): 2, ("b", "d"): 0, ("c", "d"): 0}
    tree = tree_from_pairs(TASKS, 3, outcomes(K))
    assert tree.to_json() == [[["a", "b", "c"], ["d"]], [["a", "b"], ["c"], ["d"]],
                              [["a", "b"], ["c"], ["d"]]]


def test_complete_linkage_never_exceeds_a_pairwise_limit():
    rng = random.Random(0)
    for _ in range(200):
        tasks = [f"t{i}" for i in range(rng.randint(2, 6))]
        L = rng.randint(1, 5)
        K = {frozenset(p): rng.randint(0, L) for p in itertools.combinations(tasks, 2)}
        syn = {p: rng.uniform(-1, 1) for p in K}
        spec = cut(tasks, L, complete_linkage(tasks, L, K, syn))
        for a, b in itertools.combinations(tasks, 2):
            assert spec.shared_depth(a, b) <= K[frozenset((a, b))]


def test_ties_go_to_higher_synergy_then_task_order():
    K = {("a", "b"): 2, ("a", "c"): 2, ("b", "c"): 0, ("a", "d"): 0, ("b", "d"): 0, ("c", "d"): 0}
    prefer_c = tree_from_pairs(TASKS, 3, outcomes(K, synergy={("a", "c"): 0.05}))
    assert prefer_c.shared_depth("a", "c") == 2 and prefer_c.shared_depth("a", "b") == 0
    by_order = tree_from_pairs(TASKS, 3, outcomes(K))
    assert by_order.shared_depth("a", "b") == 2 and by_order.shared_depth("a", "c") == 0


class Unscaled:
    """A rule whose drops are already on the fraction scale."""

    def comparable(self, task, value):
        return value


def drop_outcomes(drop_of_pair, L=3, trained=None):
    """Pairs whose first task drops drop_of_pair(pair) · k at depth k (the second task 0)."""
    out = []
    for a, b in itertools.combinations(TASKS, 2):
        depths = {}
        for d in range(1, L + 1):
            ok = trained is None or d in trained.get((a, b), ())
            depths[d] = DepthOutcome(ok, {a: drop_of_pair((a, b)) * d, b: 0.0} if ok else {})
        out.append(PairOutcome((a, b), depths, {a: 0.01, b: 0.01}))
    return out


def test_budget_trees_are_the_lowest_predicted_drop_within_each_budget():
    from hmtl.search.budget import DropPredictor, best_trees
    from hmtl.search.partitions import chain_params, chains

    cost = {("c", "d"): 0.001, ("a", "b"): 0.01}
    predictor = DropPredictor(drop_outcomes(lambda p: cost.get(p, 0.2)), Unscaled())
    blocks, heads = [100, 100, 100], 40
    budgets = [1240, 1040, 840, 640, 340]
    trees = best_trees(TASKS, blocks, heads, budgets, predictor)
    every = [(predictor.score(TreeSpec(tuple(TASKS), c)), chain_params(c, blocks, heads))
             for c in chains(tuple(TASKS), 3)]
    for budget, found in zip(budgets, trees):
        assert found.params <= budget and chain_params(found.spec.partitions, blocks, heads) == found.params
        assert found.predicted == pytest.approx(min(s for s, p in every if p <= budget))
    assert trees[0].spec == TreeSpec.independent(TASKS, 3)          # everything fits: no sharing
    assert trees[1].spec.shared_depth("c", "d") == 2                 # cheapest pair shares first
    assert trees[-1].spec == TreeSpec.flat(TASKS, 3)                 # only flat fits


def test_predictor_check_ranks_trees_of_one_size_apart_from_the_size_effect():
    from hmtl.search.budget import predictor_check

    a, b, c, d = TASKS
    shapes = [((a, b), (c, d)), ((a, c), (b, d)), ((a, d), (b, c)), ((a, b, c), (d,))]
    same = [TreeSpec(tuple(TASKS), (shape, shape)) for shape in shapes]       # one size: 100
    flat = TreeSpec.flat(TASKS, 2)
    predicted = {t.partitions: p for t, p in zip(same + [flat], [0.01, 0.02, 0.03, 0.04, 0.09])}
    scorer = SimpleNamespace(score=lambda spec: predicted[spec.partitions])
    measured = [0.04, 0.03, 0.02, 0.01]                    # exactly the reverse order
    trees = [(f"t{i}", t, m, 100) for i, (t, m) in enumerate(zip(same, measured))]
    trees += [("again", same[0], 0.5, 100), ("flat", flat, 0.2, 50)]        # a repeat is skipped
    out = predictor_check(trees, scorer)
    assert len(out["trees"]) == 5
    assert out["same_size"] == [{"params": 100, "trees": 4, "spearman": -1.0}]
    assert out["spearman"] is not None and out["spearman"] > -1.0   # flat's size effect helps


def test_predictor_interpolates_and_a_pair_never_measured_is_avoided():
    from hmtl.search.budget import UNKNOWN, DropPredictor, best_trees

    # (a, b) measured at depths 1 and 3 only; (c, d) never trained (all pre-screened)
    trained = {p: (1, 2, 3) for p in itertools.combinations(TASKS, 2)}
    trained[("a", "b")], trained[("c", "d")] = (1, 3), ()
    predictor = DropPredictor(drop_outcomes(lambda p: 0.01, trained=trained), Unscaled())
    assert predictor.pair_drop("a", "b", 2) == pytest.approx(0.02)    # between 1 and 3
    assert predictor.pair_drop("c", "d", 1) == UNKNOWN
    beyond = DropPredictor(drop_outcomes(lambda p: 0.01, trained={p: (1, 2) for p in trained}),
                           Unscaled())
    assert beyond.pair_drop("a", "b", 3) == pytest.approx(0.03)       # the last slope goes on
    [tree] = best_trees(TASKS, [100, 100, 100], 40, [1040], predictor)
    assert tree.spec.shared_depth("c", "d") == 0 and tree.params <= 1040


def test_beam_search_agrees_with_enumeration_on_few_tasks():
    from hmtl.search.budget import DropPredictor, _beam, best_trees

    rng = random.Random(1)
    cost = {p: rng.uniform(-0.01, 0.05) for p in itertools.combinations(TASKS, 2)}
    predictor = DropPredictor(drop_outcomes(lambda p: cost[p]), Unscaled())
    for budget in (1140, 940, 740, 540):
        [exact] = best_trees(TASKS, [100, 100, 100], 40, [budget], predictor)
        beam = _beam(tuple(TASKS), [100, 100, 100], 40, budget, predictor, width=64)
        assert beam.params <= budget and beam.predicted >= exact.predicted - 1e-12


class TreeExecutor:
    """Answers every tree job with validation accuracy acc(spec, task) on 100 clips."""

    def __init__(self, acc):
        self.acc, self.jobs = acc, []

    def run(self, jobs, folder, desc="", on_record=None):
        self.jobs += jobs
        return [record(list(j.spec.tasks), {t: {"accuracy": self.acc(j.spec, t), "n": 100}
                                            for t in j.spec.tasks}, j.seed) for j in jobs]


@pytest.mark.parametrize("better_by, on_tasks, switches", [
    (0.01, TASKS, True),           # 1 point on every task
    (0.01, ["a"], True),           # exactly one clip of one task: 0.25 points of the mean
    (0.009, ["a"], False),         # less than one clip
    (0.001, TASKS, False)])        # 0.1 point on every task: 0.1 < 0.25
def test_budget_candidates_choose_on_validation_by_at_least_one_clip(better_by, on_tasks, switches):
    """search.budget_candidates: the predicted tree and drawn trees of exactly its group counts,
    trained on seeds no compared model uses; a drawn tree replaces the predicted one only when
    its validation drop is lower by at least one clip (1/100 of one task of 4: 0.25 points)."""
    from hmtl.search.budget import DropPredictor, best_trees, choose_on_validation
    from hmtl.search.compatibility import Rule
    from hmtl.search.draws import counts_of

    cost = {("c", "d"): 0.001, ("a", "b"): 0.01}
    [predicted] = best_trees(TASKS, [100, 100, 100], 40, [840], DropPredictor(
        drop_outcomes(lambda p: cost.get(p, 0.2)), Unscaled()))
    # from 30 % accuracy one clip more computes a hair under one clip in floats: still one clip
    ex = TreeExecutor(lambda spec, task: 0.3 + better_by * (spec != predicted.spec
                                                           and task in on_tasks))
    ctx = context(ex, seeds=2, budget_candidates=4, candidate_seeds=2)
    predictor = DropPredictor(drop_outcomes(lambda p: cost.get(p, 0.2)), Rule(ctx.cfg, stage1()))
    chosen, found = choose_on_validation(ctx, predictor, predicted)
    assert len(found) == 4 and found[0].spec == predicted.spec and found[0].proposed
    assert len({c.spec for c in found}) == 4
    assert all(counts_of(c.spec) == counts_of(predicted.spec) for c in found)   # one size
    assert {j.seed for j in ex.jobs} == {2, 3}            # not the compared models' seeds 0, 1
    assert found[0].measured == pytest.approx(0.6)
    assert (chosen.spec != predicted.spec) == switches
    if switches:
        assert chosen.spec == min(found[1:], key=lambda c: c.predicted).spec  # ties: predicted
        assert "chosen on validation among 4 candidates" in chosen.how
    # one candidate is the predicted tree alone, untrained
    assert choose_on_validation(context(ex, budget_candidates=1), predictor, predicted) == \
        (predicted, [])


def test_detach_moves_a_task_out_one_depth_earlier():
    spec = TreeSpec.from_json(TASKS, [[["a", "b", "c", "d"]], [["a", "b", "c"], ["d"]],
                                      [["a", "b"], ["c"], ["d"]]])
    out = detach(spec, "b")
    assert out.shared_depth("a", "b") == 2 and out.shared_depth("a", "c") == 2
    assert detach(TreeSpec.independent(TASKS, 3), "a") == TreeSpec.independent(TASKS, 3)


@pytest.mark.parametrize("seed", range(5))
def test_binary_search_finds_the_same_depths_as_the_upward_sweep(seed):
    rng = random.Random(seed)
    K = {p: rng.randint(0, 3) for p in itertools.combinations(TASKS, 2)}
    upward = run_stage2(context(TableExecutor(table_from_k(K))), stage1())
    ex = TableExecutor(table_from_k(K))
    binary = run_stage2(context(ex, sweep="binary"), stage1())
    assert [p.compatibility_depth for p in binary] == [p.compatibility_depth for p in upward]
    assert len(ex.jobs) <= 6 * 2           # ceil(log2(L + 1)) = 2 probes per pair for L = 3
    for p in binary:
        for k, o in p.depths.items():
            if not o.trained:
                assert o.skipped.startswith("binary search")
                assert o.compatible == (k <= p.compatibility_depth)


@pytest.mark.parametrize("sweep", ["upward", "binary", "exhaustive"])
def test_rsa_prescreen_trains_only_the_most_alike_pairs_per_depth(monkeypatch, sweep):
    import numpy as np

    import hmtl.search.affinity as affinity_module

    pairs = list(itertools.combinations(TASKS, 2))
    rng = np.random.default_rng(0)
    affinity = np.ones((3, 4, 4))
    for d in range(3):
        for (a, b), v in zip(pairs, rng.permutation(6)):
            i, j = TASKS.index(a), TASKS.index(b)
            affinity[d, i, j] = affinity[d, j, i] = v / 10
    monkeypatch.setattr(affinity_module, "task_affinity", lambda ctx: affinity)
    ex = TableExecutor(table_from_k({p: 3 for p in pairs}))      # every depth compatible
    out = run_stage2(context(ex, sweep=sweep, prescreen=0.5), stage1())
    kept = {k: sorted(pairs, key=lambda p: -affinity[k - 1, TASKS.index(p[0]), TASKS.index(p[1])])[:3]
            for k in (1, 2, 3)}
    trained = {(tuple(j.spec.tasks), j.spec.shared_depth(*j.spec.tasks)) for j in ex.jobs}
    assert trained and all(p in kept[k] for p, k in trained)
    for p in out:
        screened = [k for k in (1, 2, 3) if p.tasks not in kept[k]]
        for k in screened:
            o = p.depths[k]
            if not o.trained and o.skipped.startswith("RSA pre-screen"):
                assert o.compatible is False
        # compatible everywhere except where screened: K stops before the first screened depth
        assert p.compatibility_depth == (min(screened) - 1 if screened else 3)


def test_stability_repeats_the_search_with_fresh_seeds_and_counts_agreement():
    from hmtl.search.stability import repeat_search

    class SeedDependent(TableExecutor):
        """(a, b) is incompatible at depth 1 for odd seeds only: a coin-flip pair."""

        def run(self, jobs, folder, desc="", on_record=None):
            out = super().run(jobs, folder, desc, on_record)
            for job, rec in zip(jobs, out):
                if tuple(job.spec.tasks) == ("a", "b") and job.seed % 2:
                    rec.val["a"]["accuracy"] = 0.8
            return out

    K = {p: 3 for p in itertools.combinations(TASKS, 2)}
    ex = SeedDependent(table_from_k(K))
    ctx = context(ex)
    pairs = run_stage2(ctx, stage1(seeds=4))
    out = repeat_search(ctx, pairs, 3)
    assert [run["seeds"] for run in out["runs"]] == [[1], [2], [3]]
    assert out["same_depths"] == pytest.approx(1 / 3) and out["same_tree"] == pytest.approx(1 / 3)
    assert out["pair_agreement"]["a+b"] == pytest.approx(1 / 3)
    assert out["pair_agreement"]["c+d"] == 1.0
