"""The plan printed before a run: its arithmetic on a config (no data), and what it reads from a
run folder of synthetic audio (what is done, a calibration of a few steps) without changing
anything a training reads."""

from types import SimpleNamespace

import pytest
import torch

from hmtl.config import load_config
from hmtl.pipeline.plan import Plan, Sizes, StagePlan, lt4rec_rounds, plan_stages


def config(**search):
    return load_config(raw={"data": {"tasks": ["a", "b", "c"]}, "model": {"blocks": 4},
                            "search": {"seeds": 2, **search},
                            "methods": ["independent", "flat", "hierarchical", "random_tree",
                                        "branched", "lth"],
                            "baselines": {"random_draws": 5}})


def rows(cfg, until="all", sizes=None):
    return {s.name: s for s in plan_stages(cfg, until, sizes)}


@pytest.mark.parametrize("sweep, trainings, exactness", [
    ("exhaustive", 3 * 4 * 2, "exact"),            # pairs × depths × seeds
    ("upward", 3 * 4 * 2, "at most"),              # early exit: at most every depth
    ("binary", 3 * 3 * 2, "at most"),              # ⌈log2(L + 1)⌉ probes per pair
])
def test_stage2_counts_by_sweep(sweep, trainings, exactness):
    stage2 = rows(config(sweep=sweep))["stage 2"]
    assert (stage2.trainings, stage2.exactness) == (trainings, exactness)


def test_prescreening_trains_a_fraction_of_the_pairs_at_each_depth():
    stage2 = rows(config(sweep="exhaustive", prescreen=0.5))["stage 2"]
    assert (stage2.trainings, stage2.exactness) == (2 * 4 * 2, "exact")   # ⌈0.5·3⌉ pairs
    assert "2 of 3 pairs × 4 depths" in stage2.how


def test_stages_methods_and_budgets():
    r = rows(config(budgets=[0.5, 0.7], repair_rounds=1))
    assert r["stage 1"].trainings == 3 * 2
    assert (r["final tree"].trainings, r["final tree"].exactness) == (2 * 2, "at most")
    assert r["budget trees"].trainings == 2 * 2
    assert "budget candidates" not in r
    chosen = rows(config(budgets=[0.5, 0.7], budget_params=900, budget_candidates=4,
                         candidate_seeds=2))["budget candidates"]
    assert (chosen.trainings, chosen.exactness) == (3 * 4 * 2, "at most")
    assert r["flat"].trainings == 2
    # size-matched baselines of baselines.at_budgets: once more per budget
    assert (r["random_tree"].trainings, r["random_tree"].exactness) == (3 * 5 * 2, "at most")
    assert r["branched"].trainings == 3 * 2
    assert "independent" not in r and "hierarchical" not in r     # stage 1's, the final tree's
    sizes = Sizes(independent=3000, flat=1000, imp_rounds=lambda target: 4)
    lth = rows(config(), sizes=sizes)["lth"]
    assert (lth.trainings, lth.exactness) == (3 * 2 * 4, "at most")


def test_lth_sizes_share_their_rounds_down_to_the_smallest():
    """At the searched size and every budget's, LTH prunes by one schedule that differs only in
    each size's last round: rounds to the smallest size, plus one last round per other size."""
    rounds_to = {1000: 6, 1200: 5, 1500: 4}
    sizes = Sizes(independent=3000, flat=1000, searched=1500, budgets=(1200, 1000),
                  imp_rounds=rounds_to.__getitem__)
    cfg = load_config(raw={"data": {"tasks": ["a", "b", "c"]}, "model": {"blocks": 4},
                           "search": {"seeds": 2, "budgets": [0.4, 1000 / 3000]},
                           "methods": ["independent", "hierarchical", "lth"],
                           "baselines": {"at_budgets": ["lth"]}})
    lth = rows(cfg, sizes=sizes)["lth"]
    assert lth.trainings == 3 * 2 * (6 + 2)               # tasks × seeds × (rounds + last rounds)
    assert "6 rounds to the smallest size" in lth.how


def test_until_and_stability():
    assert list(rows(config(), until="stage1")) == ["stage 1"]
    r = rows(config(sweep="exhaustive", stability=2), until="stage2")
    assert list(r) == ["stage 1", "stage 2", "stability"]
    assert r["stability"].trainings == 2 * (3 * 2 + 3 * 4 * 2)


def test_lt4rec_rounds_as_if_masks_were_independent():
    # 3 independent masks of density p cover 1 − (1 − p)³ of the base: 500 of 1000 params at
    # p = 1 − 0.5^(1/3) = 0.206, reached after n = ⌈ln 0.206 / ln 0.8⌉ = 8 rounds (disjoint
    # masks would need 9, identical ones 4)
    assert lt4rec_rounds(0.2, 1000, 500, 3) == 8
    assert lt4rec_rounds(0.2, 1000, 500, 1) == 4            # one task: its own mask
    assert lt4rec_rounds(0.2, 1000, 1000, 3) == 0


def test_plan_time_and_render():
    plan = Plan([StagePlan("stage 1", 6, "3 tasks × 2 seeds", done=2),
                 StagePlan("stage 2", 24, "…", "at most", units=1.5, epochs=0.5)],
                seconds_per_training=10.0, calibration="test", parallel=2)
    assert (plan.trainings, plan.done, plan.todo, plan.exactness) == (30, 2, 28, "at most")
    assert plan.seconds == pytest.approx((4 * 1.0 + 24 * 1.5 * 0.5) * 10.0 / 2)
    text = plan.render()
    assert "≤    24 trainings" in text and "2 done" in text and "≈ 2 min" in text
    assert "nothing to train" in Plan([StagePlan("stage 1", 2, "", done=2)]).render()
    # a stage name longer than the others widens the column instead of shifting its row
    rows = Plan([StagePlan("stage 1", 6, ""), StagePlan("budget candidates", 30, "")]).render()
    assert len({line.index("trainings") for line in rows.splitlines()[1:]}) == 1


# ----------------------------------------------------------------------------- on a run folder

@pytest.fixture
def ctx(tmp_path, corpus):
    from hmtl.data.prepare import prepare_dataset
    from hmtl.executors import RunHandle, make_executor
    from hmtl.search.context import Context
    from hmtl.testing import tiny_config

    cfg = tiny_config(corpus, tasks=("vowel", "pitch"),
                      overrides=["train.epochs=1", "train.device=cpu"])
    folder = RunHandle(tmp_path / "run")
    data = prepare_dataset(cfg, folder.data_dir)
    runner = make_executor("serial", threads=1)
    yield Context(cfg, data, folder, runner, verbose=False)
    runner.close()


def test_plan_of_a_run_folder_changes_nothing_a_training_reads(ctx):
    from hmtl.pipeline.preflight import plan_run

    rng, threads = torch.get_rng_state(), torch.get_num_threads()
    plan = plan_run(ctx)
    assert torch.equal(torch.get_rng_state(), rng) and torch.get_num_threads() == threads
    assert not ctx.store.root.exists()                     # no training, nothing written
    stages = {s.name: s for s in plan.stages}
    assert stages["stage 1"].trainings == 2 and plan.done == 0
    assert plan.seconds_per_training > 0 and "5 steps timed" in plan.calibration
    assert "on cpu, 1 thread:" in plan.calibration          # the executor's thread count
    # stage 2 is costed by a pair model's timed steps, not by its MACs
    assert f"pair {stages['stage 2'].units:.1f}" in plan.calibration
    assert stages["stage 2"].units > 0


def test_plan_counts_what_is_done_and_reuses_its_seconds(ctx):
    from hmtl.models import TreeSpec
    from hmtl.pipeline.preflight import plan_run

    ctx.run([ctx.job(TreeSpec.single("vowel", ctx.depth), 0, "stage1 vowel")], "stage 1")
    plan = plan_run(ctx)
    stages = {s.name: s for s in plan.stages}
    assert stages["stage 1"].done == 1 and stages["stage 2"].done == 0
    assert "from 1 finished training" in plan.calibration


def test_plan_counts_budget_candidates_on_their_own_seeds(ctx):
    """Candidates train on seeds after the run's (search.budget_candidates): a finished one is
    done, or a finished run would never plan 'nothing to train'."""
    from hmtl.models import TreeSpec
    from hmtl.pipeline.preflight import plan_run
    from hmtl.search.budget import candidate_seeds

    ctx.cfg.search.budgets, ctx.cfg.search.budget_candidates = [0.9], 3
    [seed] = candidate_seeds(ctx)
    assert seed not in ctx.seeds
    ctx.run([ctx.job(TreeSpec.flat(ctx.tasks, ctx.depth), seed, "candidate 1000")], "candidates")
    stages = {s.name: s for s in plan_run(ctx).stages}
    assert stages["budget candidates"].done == 1 and stages["budget trees"].done == 0


def test_parallel_workers_divide_the_time():
    from hmtl.pipeline.preflight import _parallel

    assert _parallel(SimpleNamespace(workers=4)) == 4 and _parallel(SimpleNamespace()) == 1
