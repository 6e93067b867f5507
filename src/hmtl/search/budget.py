"""A tree for every parameter budget, from the one stage-2 sweep.

The predictor: task t sharing its first k blocks with task u is predicted to drop δ_t(u, k), the
drop measured for t in the pair model (t, u) at depth k. Depths the sweep did not train are
read off the measured ones: piecewise linear through (0, 0) and every trained depth, and beyond
the deepest trained depth growing with the last segment's slope (never shrinking): sharing more
is not assumed to cost less than what was measured. A pair with no trained depth at all
(pre-screened) is predicted to drop UNKNOWN at any depth, so a budget tree avoids sharing it
unless nothing else fits. In a tree, a task's predicted drop is its worst pairwise drop over the
tasks it shares blocks with (0 alone), and the tree's predicted drop is the mean over tasks (a
label-unit drop rescaled as synergy is, Rule.comparable).

The search: among every tree within the budget, the lowest predicted drop; ties go to fewer
params. Every nested chain is scored for up to EXHAUSTIVE_TASKS tasks (44,590 trees for 6 tasks
and 4 blocks); beyond, a beam over depths. How well the prediction ranks trees is measured,
not assumed: results.json holds each trained tree's predicted and measured drop, and their rank
correlation.

Where the prediction misranks trees (at small sizes, where a task's real loss when it shares a
narrow block with several tasks is not a pair's), search.budget_candidates measures instead of
predicting: the predicted tree and trees of exactly its size drawn at random are each trained
with search.candidate_seeds seeds that no compared model uses, and the budget's tree is the one
of lowest mean validation drop on the decision clips. The choice never rests on less than one
clip: a drawn tree replaces the predicted one only when it is better by at least that much."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from ..errors import HmtlError
from ..metrics import drop as metric_drop
from ..metrics import metric_spec
from ..models import TreeSpec
from ..records import MethodResult, TrainRecord
from ..results import compare, tree_method
from ..utils.io import stable_hash
from .affinity import spearman
from .compatibility import Rule
from .context import Context
from .draws import counts_of, null_trees
from .partitions import Partition, chain_params, chains, splits
from .stage2 import PairOutcome

UNKNOWN = 1.0              # a never-measured pair: 100 points, i.e. "do not share it"
EPS = 1e-9                 # float rounding: a difference of exactly one clip counts as one clip
EXHAUSTIVE_TASKS = 6
BEAM_WIDTH = 256


class DropPredictor:
    def __init__(self, pairs: list[PairOutcome], rule: Rule):
        self.rule = rule
        self.curves: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for p in pairs:
            for t, u in (p.tasks, p.tasks[::-1]):
                self.curves[(t, u)] = sorted((k, o.drops[t]) for k, o in p.depths.items()
                                             if o.trained)

    def pair_drop(self, task: str, other: str, k: int) -> float:
        """δ_task(other, k): the task's predicted drop sharing k blocks with `other`."""
        if k == 0:
            return 0.0
        points = self.curves.get((task, other)) or []
        if not points:
            return UNKNOWN
        k0, d0 = 0, 0.0
        for k1, d1 in points:
            if k <= k1:                                   # between two measured depths
                return d0 + (d1 - d0) * (k - k0) / (k1 - k0)
            k0, d0 = k1, d1
        (k0, d0), (k1, d1) = ([(0, 0.0)] + points)[-2:]   # beyond the deepest: its last slope
        return d1 + max(0.0, (d1 - d0) / (k1 - k0)) * (k - k1)

    def task_drops(self, spec: TreeSpec) -> dict[str, float]:
        """Each task's predicted drop in the tree, in its metric's unit."""
        out = {}
        for t in spec.tasks:
            shared = [self.pair_drop(t, u, spec.shared_depth(t, u)) for u in spec.tasks if u != t
                      and spec.shared_depth(t, u) > 0]
            out[t] = max(shared, default=0.0)
        return out

    def score(self, spec: TreeSpec) -> float:
        """The tree's predicted mean drop (fractions; label units rescaled)."""
        drops = self.task_drops(spec)
        return sum(self.rule.comparable(t, d) for t, d in drops.items()) / len(drops)


@dataclass(frozen=True)
class BudgetTree:
    budget: int               # params allowed
    spec: TreeSpec
    params: int
    predicted: float          # predicted mean drop
    how: str                  # "exhaustive over N trees" or "beam W"
    validation: float | None = None   # its validation drop, when chosen among candidates


def best_trees(tasks: list[str], blocks: list[int], heads: int, budgets: list[int],
               predictor: DropPredictor) -> list[BudgetTree]:
    """For each budget, the tree with the lowest predicted drop within it (None-free: a budget
    below the flat model's size raises in `resolve_budgets`)."""
    tasks_t = tuple(tasks)
    if len(tasks) <= EXHAUSTIVE_TASKS:
        scored = []
        for chain in chains(tasks_t, len(blocks)):
            spec = TreeSpec(tasks_t, chain)
            scored.append((predictor.score(spec), chain_params(chain, blocks, heads), chain, spec))
        how = f"exhaustive over {len(scored)} trees"
        out = []
        for b in budgets:
            fits = [s for s in scored if s[1] <= b]
            score, params, _, spec = min(fits, key=lambda s: (round(s[0], 12), s[1], s[2]))
            out.append(BudgetTree(b, spec, params, score, how))
        return out
    return [_beam(tasks_t, blocks, heads, b, predictor) for b in budgets]


def _beam(tasks: tuple[str, ...], blocks: list[int], heads: int, budget: int,
          predictor: DropPredictor, width: int = BEAM_WIDTH) -> BudgetTree:
    """Depth by depth, keep the `width` partial trees of lowest predicted drop that can still be
    completed within the budget; a partial tree is scored as if its last partition went on to
    the end (its cheapest completion, which fits whenever any does)."""
    order = {t: i for i, t in enumerate(tasks)}
    L = len(blocks)
    beams: list[tuple[Partition, ...]] = [()]
    for d in range(L):
        cands = set()
        for chain in beams:
            parent = chain[-1] if chain else (tasks,)
            level, options = [parent], {parent}
            while level:                                   # every refinement by repeated splits
                level = [q for p in level for q in splits(p, order) if q not in options]
                options.update(level)
            for q in options:
                done = chain_params(chain + (q,), blocks[:d + 1], 0)
                if done + len(q) * sum(blocks[d + 1:]) + heads <= budget:   # completable
                    cands.add(chain + (q,))

        def partial_score(c):
            spec = TreeSpec(tasks, c + (c[-1],) * (L - len(c)))
            return (predictor.score(spec), chain_params(spec.partitions, blocks, heads), c)

        beams = sorted(cands, key=partial_score)[:width]
        if not beams:
            raise ValueError(f"no tree fits {budget} params")
    spec = TreeSpec(tasks, beams[0])
    return BudgetTree(budget, spec, chain_params(spec.partitions, blocks, heads),
                      predictor.score(spec), f"beam {width}")


def resolve_budgets(values: list[float], independent_params: int, flat_params: int) -> list[int]:
    """search.budgets in params: a value ≤ 1 is a fraction of the independent set's params,
    above 1 a number of params. A budget below the flat model's size cannot be met."""
    out = []
    for v in values:
        b = int(round(v * independent_params)) if v <= 1 else int(v)
        if b < flat_params:
            raise ValueError(f"{v}: {b:,} params is below the flat model's {flat_params:,}")
        out.append(b)
    return out


# ----------------------------------------------------------------------------- in a run

@dataclass(frozen=True)
class Candidate:
    """A tree trained to choose a budget's tree on validation (search.budget_candidates)."""

    spec: TreeSpec
    predicted: float          # predicted mean drop
    measured: float           # mean validation drop on the decision clips, over candidate seeds
    proposed: bool            # the predictor's own tree (else drawn at random)

    def to_json(self) -> dict:
        return {"tree": self.spec.to_json(), "predicted_drop": round(self.predicted, 6),
                "validation_drop": round(self.measured, 6), "proposed": self.proposed}


def candidate_seeds(ctx: Context) -> list[int]:
    """Seeds that no compared model uses (those after the run's seeds): the tree is chosen on
    models whose test results never enter a comparison."""
    first = ctx.seed_offset + len(ctx.seeds)
    return list(range(first, first + ctx.cfg.search.candidate_seeds))


def validation_drop(rule: Rule, tasks: list[str], records: list[TrainRecord]) -> tuple[float, float]:
    """(mean drop over tasks, the least one clip changes it): each task's validation value (on
    the decision clips) averaged over the records' seeds against its isolated models' mean,
    label units rescaled as synergy is. One clip is 1/n of the task with the fewest decision
    clips, over the number of tasks (0 when no task is measured in fractions of clips)."""
    drops, clips = [], []
    for t in tasks:
        metric = rule.stage1.metric(t)
        value = sum(r.value(t) for r in records) / len(records)
        drop = rule.comparable(t, metric_drop(rule.stage1.reference(t), value, metric))
        if not math.isfinite(drop):                 # no labelled decision clip: no evidence
            continue
        drops.append(drop)
        n = records[0].val[t].get("n", 0)
        if metric_spec(metric).fraction and n:
            clips.append(1.0 / n)
    if not drops:
        return math.inf, 0.0
    return sum(drops) / len(drops), max(clips, default=0.0) / len(drops)


def choose_on_validation(ctx: Context, predictor: DropPredictor,
                         bt: BudgetTree) -> tuple[BudgetTree, list[Candidate]]:
    """search.budget_candidates: the predicted tree and candidates - 1 others of exactly its
    group counts (drawn without repetition, seeded by the dataset and the tree, so a rerun
    resumes them), trained on candidate_seeds; the lowest validation drop wins."""
    n = ctx.cfg.search.budget_candidates
    if n <= 1:
        return bt, []
    rng = random.Random(stable_hash([ctx.data.key, bt.spec.to_json(), "budget candidates"]))
    others = null_trees(ctx.tasks, [counts_of(bt.spec)], bt.spec, n - 1, rng)[0]
    if not others:                          # the only tree of its size (e.g. flat): no choice
        return bt, []
    specs = [bt.spec] + others
    seeds = candidate_seeds(ctx)
    jobs = [ctx.job(spec, s, f"candidate {bt.budget}") for spec in specs for s in seeds]
    records = ctx.run(jobs, desc=f"budget {bt.budget:,}: {len(specs)} candidates")
    found, floor = [], 0.0
    for i, spec in enumerate(specs):
        measured, clip = validation_drop(predictor.rule, ctx.tasks,
                                         records[i * len(seeds):(i + 1) * len(seeds)])
        found.append(Candidate(spec, predictor.score(spec), measured, i == 0))
        floor = max(floor, clip)
    best = min(found, key=lambda c: (round(c.measured, 12), round(c.predicted, 12)))
    if not found[0].measured - best.measured >= floor - EPS:   # not better by a clip (or no
        best = found[0]                                        # evidence): keep the prediction
    how = (f"{bt.how}; chosen on validation among {len(found)} candidates "
           f"({len(seeds)} seed{'s' if len(seeds) > 1 else ''} each)")
    return BudgetTree(bt.budget, best.spec, bt.params, best.predicted, how, best.measured), found


def budget_tree(ctx: Context, predictor: DropPredictor, budget: int,
                choose: bool = True) -> tuple[BudgetTree, list[Candidate]]:
    """search.budget_params: the tree of lowest predicted drop within the budget, or of lowest
    validation drop among the candidates (`choose`: a run that stops after stage 2 trains no
    tree, so it keeps the prediction)."""
    blocks, heads = ctx.block_params()
    predicted = best_trees(ctx.tasks, blocks, heads, [budget], predictor)[0]
    return choose_on_validation(ctx, predictor, predicted) if choose else (predicted, [])


@dataclass
class TrainedBudget:
    tree: BudgetTree
    records: list[TrainRecord]
    entry: MethodResult
    fraction: float           # of the independent set's params
    candidates: list[Candidate] = field(default_factory=list)


def train_budget_trees(ctx: Context, predictor: DropPredictor,
                       reference: MethodResult | None) -> list[TrainedBudget]:
    """search.budgets: each budget's tree (predicted, or chosen among candidates) trained with
    every seed (a tree already trained, e.g. the hierarchical one, is read back)."""
    blocks, heads = ctx.block_params()
    independent = ctx.cost(TreeSpec.independent(ctx.tasks, ctx.depth))[0]
    try:
        budgets = resolve_budgets(ctx.cfg.search.budgets, independent, sum(blocks) + heads)
    except ValueError as e:
        raise HmtlError(f"search.budgets: {e}") from None
    out = []
    for predicted in best_trees(ctx.tasks, blocks, heads, budgets, predictor):
        bt, candidates = choose_on_validation(ctx, predictor, predicted)
        records = ctx.run(ctx.jobs(bt.spec, f"budget {bt.budget}"), desc=f"budget {bt.budget:,}")
        entry = tree_method(records, ctx.tasks)
        if reference is not None:
            entry.vs_independent = compare(entry, reference, ctx.tasks)
        out.append(TrainedBudget(bt, records, entry, bt.budget / independent, candidates))
    return out


def budget_json(tb: TrainedBudget, predictor: DropPredictor) -> dict:
    """A budget tree in results.json: its size, predicted and measured drops."""
    bt = tb.tree
    return {"budget": bt.budget, "fraction": round(tb.fraction, 4), "params": bt.params,
            "macs": tb.entry.macs, "tree": bt.spec.to_json(),
            "predicted_drop": round(bt.predicted, 6),
            "predicted_task_drops": {t: round(d, 6) for t, d in
                                     predictor.task_drops(bt.spec).items()},
            "search": bt.how, "method": tb.entry.to_json(),
            **({"candidates": [c.to_json() for c in tb.candidates]} if tb.candidates else {})}


def predictor_check(trees: list[tuple[str, TreeSpec, float, int]], predictor: DropPredictor) -> dict:
    """How well the predicted drop ranks the trees that were trained: (name, tree, measured mean
    drop, params) each; Spearman's rank correlation of predicted with measured over them all
    (None below 3 distinct trees), and within each size that has at least 3 trees ("same_size":
    a budget picks among trees of one size, where the size itself explains nothing)."""
    seen, rows = set(), []
    for name, spec, measured, params in trees:
        if spec.partitions in seen:
            continue
        seen.add(spec.partitions)
        rows.append({"name": name, "tree": spec.to_json(), "params": int(params),
                     "predicted": round(predictor.score(spec), 6), "measured": round(measured, 6)})

    def rho(group: list[dict]) -> float | None:
        if len(group) < 3:
            return None
        r = spearman(np.array([g["predicted"] for g in group]),
                     np.array([g["measured"] for g in group]))
        return None if r is None or not np.isfinite(r) else round(float(r), 4)

    sizes: dict[int, list[dict]] = {}
    for r in rows:
        sizes.setdefault(r["params"], []).append(r)
    same = [{"params": p, "trees": len(g), "spearman": rho(g)} for p, g in sorted(sizes.items())
            if len(g) >= 3]
    return {"trees": rows, "spearman": rho(rows), "same_size": same}