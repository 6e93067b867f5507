"""The baselines: masks that really zero weights (and keep them zero through AdamW), pruning
schedules that hit the target, sparse-sharing steps that touch only the batch's task, the
representation-similarity affinity and the branched tree search, and every method end to end
in `hmtl run`, resumable without retraining."""

import json
import shutil

import numpy as np
import pytest
import torch

from hmtl.baselines.branched import exhaustive_tree, partition_cost, search_tree
from hmtl.baselines.flat_matched import match_widths
from hmtl.search.affinity import dissimilarity, representations, rsa_affinity, spearman
from hmtl.search.partitions import refinements, set_partitions
from hmtl.baselines.sparse_sharing import SparseSharing, union_size
from hmtl.baselines.masks import apply_masks, full_masks, load_masks, plain_state, prunable_names
from hmtl.baselines.pruning import (ImpJob, RewindJob, imp_schedule, prune_by_magnitude,
                                    round_count)
from hmtl.baselines.random_tree import count_choices, draw_trees
from hmtl.config import ModelConfig, TrainConfig
from hmtl.data.prepare import prepare_dataset
from hmtl.errors import HmtlError
from hmtl.models import TreeSpec, build_model
from hmtl.pipeline import check_methods, run_pipeline
from hmtl.search.methods import METHODS
from hmtl.testing import tiny_config

TASKS = ("vowel", "pitch")
FAST = ["train.epochs=2", "train.patience=2"]


def tiny_model(spec: TreeSpec, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(spec, ModelConfig(blocks=2, widths=[8, 6], kernel_size=3, dropout=0.0),
                       {t: 3 for t in spec.tasks}, 12, 20)


def random_masks(model, keep: float, seed: int, heads: bool = False):
    g = torch.Generator().manual_seed(seed)
    return {n: torch.rand(m.shape, generator=g) < keep for n, m in full_masks(model, heads).items()}


# ----------------------------------------------------------------------------- masks and pruning

def test_masked_weights_stay_exactly_zero_under_adamw_weight_decay():
    model = tiny_model(TreeSpec.single("a", 2))
    masks = random_masks(model, 0.5, 0, heads=True)
    apply_masks(model, masks)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.5)
    x, y = torch.randn(8, 12, 20), torch.randint(0, 3, (8,))
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(model(x)["a"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    live = dict(model.named_modules())
    for name, m in masks.items():
        module = live[name.rsplit(".", 1)[0]]
        assert torch.all(module.weight[~m] == 0)          # the live model computes with zeros
        assert torch.any(module.weight[m] != 0)
    state = plain_state(model)
    plain = tiny_model(TreeSpec.single("a", 2))
    plain.load_state_dict(state)                          # a normal TreeModel takes it as is
    for name, m in masks.items():
        assert torch.all(state[name][~m] == 0)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, corpus):
    cfg = tiny_config(corpus, tasks=TASKS, overrides=FAST + ["train.weight_decay=0.5"])
    return cfg, prepare_dataset(cfg, tmp_path_factory.mktemp("data"))


def test_imp_job_saves_plain_weights_with_zeros_and_counts_them(prepared):
    cfg, data = prepared
    spec = TreeSpec.single("vowel", 2)
    model = build_model(spec, cfg.model, {"vowel": data.num_classes("vowel")}, data.x.shape[1],
                        data.frames)
    masks = random_masks(model, 0.3, 1)
    job = ImpJob(spec, 0, cfg.model, cfg.train, (("vowel", 1.0),), data.key, round=1,
                 masks=tuple(masks.items()))
    record, state = job.execute(data)
    for name, m in masks.items():
        assert torch.all(state[name][~m] == 0) and torch.all(state[name][m] != 0)
    model.load_state_dict(state)
    nonzero = sum(int((p != 0).sum()) for p in model.parameters())
    assert record.nonzero_params == nonzero == record.params - sum(int((~m).sum())
                                                                        for m in masks.values())
    # the identity holds the masks: other masks, another job
    other = ImpJob(spec, 0, cfg.model, cfg.train, (("vowel", 1.0),), data.key, round=1,
                   masks=tuple(random_masks(model, 0.3, 2).items()))
    assert other.key != job.key and not job.packable


def test_rewind_point_is_its_own_job_and_changes_the_rounds_identity(prepared):
    cfg, data = prepared
    spec = TreeSpec.single("vowel", 2)
    base = (spec, 0, cfg.model, cfg.train, (("vowel", 1.0),), data.key)
    record, state = RewindJob(*base, epoch=1).execute(data)
    assert record.epochs == 1
    model = build_model(spec, cfg.model, {"vowel": data.num_classes("vowel")}, data.x.shape[1],
                        data.frames)
    masks = tuple(full_masks(model).items())
    at_init = ImpJob(*base, round=1, masks=masks)
    rewound = ImpJob(*base, round=1, rewind_epoch=1, masks=masks, start=tuple(state.items()))
    assert len({at_init.key, rewound.key, RewindJob(*base, epoch=1).key}) == 3


def test_magnitude_pruning_removes_the_smallest_remaining_weights():
    state = {"a": torch.tensor([[0.1, -5.0], [3.0, 0.2]]), "b": torch.tensor([-0.05, 4.0])}
    masks = {"a": torch.tensor([[True, True], [True, False]]), "b": torch.tensor([True, True])}
    out = prune_by_magnitude(state, masks, 2)
    assert out["a"].tolist() == [[False, True], [True, False]]    # 0.1 goes; 0.2 was gone
    assert out["b"].tolist() == [False, True]                     # -0.05 goes


def test_imp_schedule_prunes_a_fifth_per_round_and_hits_the_target_exactly():
    prunable, fixed = {"a": 1000, "b": 600}, 100
    rounds = imp_schedule(prunable, fixed, 700, 0.2)
    assert fixed + sum(rounds[-1].values()) == 700
    prev = prunable
    for r in rounds[:-1]:
        assert all(prev[t] - r[t] == round_count(0.2, prev[t]) for t in r)
        prev = r
    assert fixed + sum(rounds[-2].values()) > 700
    assert imp_schedule(prunable, fixed, 5000, 0.2) == []        # already small enough
    with pytest.raises(HmtlError, match="below what pruning can reach"):
        imp_schedule(prunable, fixed, 50, 0.2)


# ----------------------------------------------------------------------------- sparse sharing

def test_sparse_sharing_step_updates_only_the_batch_tasks_mask():
    spec = TreeSpec.flat(("a", "b"), 2)
    model = tiny_model(spec)
    masks = {t: random_masks(model, 0.5, i) for i, t in enumerate(spec.tasks)}
    masks["a"]["heads.a.weight"] = torch.rand(3, 6) < 0.5            # a pruned head of its own
    cfg = TrainConfig(lr=0.05, weight_decay=0.3, grad_clip=1.0)
    from hmtl.training.multitask import MultiTaskLoss

    ss = SparseSharing(model, masks, {t: MultiTaskLoss([t]) for t in "ab"}, cfg, {"a": 10, "b": 10})
    x = torch.randn(6, 12, 20)
    ya, yb = torch.randint(0, 3, (6, 1)), torch.randint(0, 3, (6, 1))
    ss.step("b", x, yb)                     # b's step first: shared weights now have a history
    ss.step("a", x, ya)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    ss.step("a", x, ya)
    after = dict(model.named_parameters())
    for name in prunable_names(model) + ["heads.a.weight"]:
        key = name.rsplit(".", 1)[0] + ".parametrizations.weight.original"
        outside = ~masks["a"][name]
        assert torch.equal(after[key][outside], before[key][outside]), name
        assert not torch.equal(after[key][~outside], before[key][~outside]), name
    for key in before:
        if key.startswith("heads.b."):
            assert torch.equal(after[key], before[key]), key
    # a's optimiser never saw a gradient outside a's mask
    orig = after["blocks.0.0.0.parametrizations.weight.original"]
    moments = ss.opts["a"].state[orig]["exp_avg"]
    assert torch.all(moments[~masks["a"]["blocks.0.0.0.weight"]] == 0)
    # the union of the masks is what the model keeps
    kept, covered = union_size(masks)
    state = ss.union_state()
    zeros = sum(int((state[n] == 0).sum()) for n in list(masks["a"]))
    assert covered - kept == zeros


# ----------------------------------------------------------------------------- branched

def test_rsa_affinity_of_identical_models_is_one_and_spearman_is_rank_based():
    model = tiny_model(TreeSpec.single("a", 2))
    x = torch.randn(30, 12, 20)
    a = [dissimilarity(r) for r in representations(model, x)]
    b = [dissimilarity(r) for r in representations(tiny_model(TreeSpec.single("a", 2)), x)]
    assert all(abs(rsa_affinity(p, q) - 1.0) < 1e-12 for p, q in zip(a, b))
    v = np.array([1.0, 2.0, 2.0, 5.0])
    assert spearman(v, v ** 3) == pytest.approx(1.0)
    assert spearman(v, -v) == pytest.approx(-1.0)


def brute_force(tasks, dis, blocks, heads, budget):
    order = {t: i for i, t in enumerate(tasks)}
    best = None
    for first in set_partitions(tuple(tasks)):
        chains = [[first]]
        for _ in range(len(blocks) - 1):
            chains = [c + [q] for c in chains for q in refinements(c[-1], order)]
        for c in chains:
            params = sum(len(p) * b for p, b in zip(c, blocks)) + heads
            cost = sum(partition_cost(p, dis[d], order) for d, p in enumerate(c))
            if params <= budget and (best is None or cost < best):
                best = cost
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exhaustive_tree_search_agrees_with_brute_force(seed):
    rng = np.random.default_rng(seed)
    tasks, blocks, heads = ["a", "b", "c", "d"], [100, 200, 300], 40
    dis = rng.uniform(0, 2, (3, 4, 4))
    dis = (dis + dis.transpose(0, 2, 1)) / 2
    for budget in (600 + heads, 1400 + heads, 2400 + heads):
        spec, cost = exhaustive_tree(tasks, dis, blocks, heads, budget)
        params = sum(len(p) * b for p, b in zip(spec.partitions, blocks)) + heads
        assert params <= budget
        assert cost == pytest.approx(brute_force(tasks, dis, blocks, heads, budget))
    assert exhaustive_tree(tasks, dis, blocks, heads, 599) is None
    spec, _, how = search_tree(tasks, dis, blocks, heads, 599)
    assert spec == TreeSpec.flat(tasks, 3) and "nothing fits" in how


def test_beam_search_beyond_six_tasks_stays_within_budget():
    rng = np.random.default_rng(0)
    tasks, blocks, heads = [f"t{i}" for i in range(7)], [100, 200], 70
    dis = rng.uniform(0, 2, (2, 7, 7))
    spec, _, how = search_tree(tasks, (dis + dis.transpose(0, 2, 1)) / 2, blocks, heads, 1000)
    assert how.startswith("beam")
    assert sum(len(p) * b for p, b in zip(spec.partitions, blocks)) + heads <= 1000


# ----------------------------------------------------------------------------- size matching

def test_random_trees_and_matched_widths_come_close_to_the_target():
    tasks, blocks, heads = ["a", "b", "c", "d"], [1000, 1000, 2000], 100
    target = 8100                                       # e.g. counts (1, 2, 2): 1000+2000+4000
    trees = draw_trees(tasks, blocks, heads, target, 3)
    for spec in trees:
        params = sum(len(p) * b for p, b in zip(spec.partitions, blocks)) + heads
        assert abs(params - target) <= 0.03 * target
    assert len(set(trees)) == 3 and trees == draw_trees(tasks, blocks, heads, target, 3)
    assert count_choices(4, blocks, heads, 10) == [(1, 1, 1)]     # nothing near: the closest
    cfg = ModelConfig(blocks=2, widths=[16, 8])
    params = lambda m: sum(m.block_widths) * 10 + m.block_widths[0] * m.block_widths[1]  # noqa: E731
    model, factor = match_widths(params, cfg, 2 * params(cfg))
    assert factor > 1 and abs(params(model) - 2 * params(cfg)) <= 0.1 * params(cfg)


# ----------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def all_methods_run(tmp_path_factory, corpus):
    # tolerance 1: every pair is compatible, so the hierarchical tree is the flat one, whatever
    # the few epochs learn; the baselines then match the flat model's size
    cfg = tiny_config(corpus, tasks=TASKS, overrides=FAST + [
        "search.tolerance=1.0", "baselines.pruning_rate=0.5", "baselines.random_draws=2",
        f"methods=[{', '.join(METHODS)}]"])
    out = tmp_path_factory.mktemp("all") / "run"
    return cfg, out, run_pipeline(cfg, out, verbose=False)


def test_every_method_is_in_results_json_and_md(all_methods_run):
    cfg, out, r = all_methods_run
    assert list(r["methods"]) == list(METHODS)
    hier = r["methods"]["hierarchical"]["params"]
    md = (out / "results.md").read_text()
    assert "| non-zero |" in md
    for name, e in r["methods"].items():
        assert f"| {name} |" in md
        assert e["nonzero_params"] <= e["params"] and e["macs"] > 0
        for t in TASKS:
            assert {"accuracy", "accuracy_std", "macro_f1", "macro_f1_std"} <= set(e["metrics"][t])
        cmp = e["vs_independent"]
        assert {"drops", "mean_drop", "max_drop", "param_reduction", "delta_m"} <= set(cmp)
        indep = r["methods"]["independent"]["params"]
        assert cmp["param_reduction"] == pytest.approx(1 - e["nonzero_params"] / indep)
    lth = r["methods"]["lth"]
    assert lth["nonzero_params"] <= hier and lth["params"] == r["methods"]["independent"]["params"]
    assert r["methods"]["branched"]["search"]["trainings"] == 0
    # LT4REC at its defaults: a base network of the independent set's size, pruned to the target
    lt = r["methods"]["lt4rec"]
    assert lt["nonzero_params"] <= hier and lt["nonzero_params"] >= 0.98 * hier
    assert lt["params"] > hier and all(n >= 1 for n in lt["pruning"]["rounds"])
    assert abs(lt["pruning"]["base_params"] - r["methods"]["independent"]["params"]) \
        <= 0.05 * r["methods"]["independent"]["params"]
    # two tasks, a flat searched tree: the only other tree is the null, at the closest size
    rt = r["methods"]["random_tree"]
    assert len(rt["trees"]) == 1 and not rt["same_size"] and rt["searched"]["trees"] == 1
    assert rt["trees"][0]["tree"] != r["methods"]["hierarchical"]["tree"]
    assert r["methods"]["flat_matched"]["widths"]
    # every other method paired with the hierarchical one, with an interval and a verdict
    found = r["comparisons"]
    assert set(found["methods"]) == set(METHODS) - {"hierarchical"}
    for name, entry in found["methods"].items():
        c = entry["mean_drop"]
        assert c["low"] <= c["estimate"] <= c["high"] and 0 <= c["p"] <= c["p_holm"] <= 1
        assert c["units"] == 1 and c["clips"] > 0
        assert set(entry["per_task"]) == set(TASKS)
    assert "| verdict |" in md
    page = (out / "report.html").read_text()
    assert '<section id="budgets">' in page and "random trees" in page


def test_lth_rounds_store_masks_and_resume_without_retraining(all_methods_run, tmp_path):
    cfg, out, r = all_methods_run
    folders = [json.loads(p.read_text()) | {"dir": p.parent}
               for p in (out / "runs").glob("*/job.json")]
    rounds = [f for f in folders if f["kind"] == "ImpJob"]
    assert rounds
    for f in rounds:
        masks = load_masks(f["dir"])                               # weights_only-loadable
        report = json.loads((f["dir"] / "sparsity.json").read_text())
        assert report["total"]["kept"] == sum(int(m.sum()) for m in masks.values())
        state = torch.load(f["dir"] / "model.pt", weights_only=True)
        assert all(torch.all(state[n][~m] == 0) for n, m in masks.items())
    # the final round's models hold exactly the reported non-zero parameters
    last_round = max(f["imp"]["round"] for f in rounds)
    nonzero = 0
    for f in (f for f in rounds if f["imp"]["round"] == last_round):
        state = torch.load(f["dir"] / "model.pt", weights_only=True)
        nonzero += sum(int((v != 0).sum()) for k, v in state.items()
                       if not k.startswith("norm.") and "running_" not in k and "num_batches" not in k)
    assert nonzero == r["methods"]["lth"]["nonzero_params"]
    # a run killed in the middle of the last LTH round: only that training is redone
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    last = max(rounds, key=lambda f: f["imp"]["round"])
    (copy / "runs" / last["dir"].name / "metrics.json").unlink()
    again = run_pipeline(cfg, copy, verbose=False)
    assert again["run"]["trained_now"] == 1
    assert run_pipeline(cfg, copy, verbose=False)["run"]["trained_now"] == 0


def test_lt4rec_prunes_to_a_target_below_the_flat_model(all_methods_run, tmp_path):
    cfg, out, r = all_methods_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    target = r["methods"]["flat"]["params"] - 600
    cfg2 = tiny_config(cfg.data.manifest, tasks=TASKS, overrides=FAST + [
        "baselines.pruning_rate=0.5", f"baselines.target_params={target}",
        "methods=[independent, lth, lt4rec]"])
    r2 = run_pipeline(cfg2, copy, verbose=False)
    e = r2["methods"]["lt4rec"]
    assert 0.98 * target <= e["nonzero_params"] <= target and e["pruning"]["rounds"][0] >= 1
    assert r2["methods"]["lth"]["nonzero_params"] == target


def test_baselines_config_is_validated(corpus):
    with pytest.raises(HmtlError, match="pruning_rate"):
        tiny_config(corpus, overrides=["baselines.pruning_rate=1.5"])
    with pytest.raises(HmtlError, match="unknown method"):
        check_methods(tiny_config(corpus, overrides=["methods=[lth, magic]"]))
    assert tiny_config(corpus).methods == ["independent", "flat", "hierarchical"]


def test_methods_table_counts_all_seeds(all_methods_run):
    _, _, r = all_methods_run
    for name in ("lth", "lt4rec", "branched", "flat_matched"):
        assert len(r["methods"][name]["per_seed"]) == len(r["seeds"])
    trees = r["methods"]["random_tree"]["trees"]
    assert len(r["methods"]["random_tree"]["per_seed"]) == len(trees) * len(r["seeds"])


def stirling2(n, k):
    """Partitions of n items into k non-empty groups (a hand count, by recursion)."""
    if n == k:
        return 1
    if k == 0 or k > n:
        return 0
    return k * stirling2(n - 1, k) + stirling2(n - 1, k - 1)


@pytest.mark.parametrize("tasks, counts", [(3, (1, 2)), (3, (2, 3)), (4, (2, 2)), (4, (2, 3)),
                                           (4, (1, 2, 4)), (5, (2, 4)), (5, (1, 3, 5)),
                                           (5, (2, 2, 3, 5))])
def test_trees_of_given_group_counts_are_counted_by_hand(tasks, counts):
    from hmtl.search.draws import same_counts

    # a chain n_1 ≤ … ≤ n_L: S(T, n_L) · Π S(n_{d+1}, n_d)
    expected = stirling2(tasks, counts[-1])
    for coarse, fine in zip(counts, counts[1:]):
        expected *= stirling2(fine, coarse)
    names = [chr(ord("a") + i) for i in range(tasks)]
    assert len(same_counts(names, counts)) == expected


def test_the_null_excludes_the_searched_tree_and_matches_its_size_exactly():
    import random

    from hmtl.baselines.random_tree import rank_of
    from hmtl.search.draws import counts_of, null_trees
    from hmtl.search.partitions import chain_params

    names, blocks, heads = ["a", "b", "c", "d", "e"], [300, 500, 700, 900], 123
    searched = TreeSpec.from_json(names, [[["a", "b", "c", "d", "e"]],
                                          [["a", "b"], ["c", "d", "e"]],
                                          [["a", "b"], ["c", "d"], ["e"]],
                                          [["a"], ["b"], ["c", "d"], ["e"]]])
    trees, how = null_trees(names, [counts_of(searched)], searched, 20, random.Random(0))
    assert len(trees) == 20 == len(set(trees)) and searched not in trees and "drawn from" in how
    size = chain_params(searched.partitions, blocks, heads)
    assert all(chain_params(t.partitions, blocks, heads) == size for t in trees)
    every, how = null_trees(names[:3], [(1, 2, 3)], None, 20, random.Random(0))
    assert len(every) == 3 and how.startswith("every distinct tree")
    r = rank_of(0.01, [0.02, 0.03, 0.01, 0.0])
    assert r["percentile"] == pytest.approx((2 + 0.5) / 4) and r["at_least_as_good"] == 0.5
    low, high = r["at_least_as_good_interval"]
    assert 0 < low < 0.5 < high < 1


def test_structure_matters_only_when_trees_differ_beyond_the_seeds():
    import numpy as np

    from hmtl.baselines.random_tree import structure_matters

    rng = np.random.default_rng(0)
    alike = [list(0.02 + rng.normal(0, 0.01, 3)) for _ in range(20)]
    apart = [list(0.01 * i + rng.normal(0, 0.002, 3)) for i in range(20)]
    assert structure_matters(alike)["p"] > 0.01
    assert structure_matters(apart)["matters"] and structure_matters(apart)["p"] < 1e-6
    assert structure_matters([[0.1], [0.2]])["matters"] is None          # one seed: cannot say
