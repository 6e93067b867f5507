"""One run folder of `hmtl run`: stage 1 → stage 2 → stage 3 → final tree → compared methods → results.

Every training is a job with a hashed folder, so running the same config again resumes: what
finished is read back, only what is missing is trained, and the decisions (which depths to
sweep, which tree) are recomputed from the stored results and come out the same."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

from .. import baselines  # noqa: F401  (the baselines register their methods)
from ..config import RunConfig, dump_config
from ..data.prepare import prepare_dataset
from ..errors import HmtlError
from ..executors import Executor, RunHandle, make_executor
from ..models import TreeSpec
from ..records import MethodResult
from ..results import build_results, compare, diagnostics, write_results
from ..search.context import Context
from ..search.final import train_final
from ..search.methods import METHODS, SearchState
from ..search.stability import repeat_search
from ..search.stage1 import run_stage1
from ..search.stage2 import run_stage2
from ..evidence import REFERENCE, compare_methods
from ..search.budget import (DropPredictor, budget_json, budget_tree, predictor_check,
                             train_budget_trees)
from ..search.compatibility import Rule
from ..search.stage3 import tree_from_pairs
from ..training.logger import check_logger
from ..utils.io import atomic_write_text
from ..utils.progress import say
from .plan import Plan
from .preflight import plan_run

STAGES = ("stage1", "stage2", "final", "all")


@dataclasses.dataclass
class RunOutcome:
    """What one run folder gives back: results.json's content, its methods (with the trainings
    behind them, for pairing), and each budget's methods as compared at that budget (the budget
    tree under REFERENCE; in results["budgets"] order) — what several splits pool (splits.py)."""

    results: dict
    methods: dict[str, MethodResult]
    budgets: list[dict[str, MethodResult]] = dataclasses.field(default_factory=list)


def run_pipeline(cfg: RunConfig, out_dir: str | Path, until: str = "all",
                 executor: str = "serial", verbose: bool = True, threads: int | None = None,
                 plan_only: bool = False) -> dict:
    """Run (or resume) the method in `out_dir`; returns the results.json content. With
    data.splits > 1, the whole method runs once per split (splits.py). A new folder whose data
    cannot be prepared (bad manifest, bad audio) is removed again, so that nothing that looks
    like a run is left behind; a second process on the same folder is refused. With plan_only,
    nothing is trained: {"plans": [each run folder's Plan]} (preflight.py)."""
    check_methods(cfg)
    check_logger(cfg.train.logger)
    runner = make_executor(executor, threads)
    try:
        if plan_only:
            return {"plans": plan_folders(cfg, Path(out_dir), runner, until)}
        if cfg.data.splits > 1:
            from .splits import run_splits

            return run_splits(cfg, Path(out_dir), runner, until, verbose)
        return run_one(cfg, RunHandle(Path(out_dir)), runner, until, verbose).results
    finally:
        runner.close()


def run_one(cfg: RunConfig, folder: RunHandle, runner: Executor, until: str = "all",
            verbose: bool = True, write: bool = True,
            plan_only: bool = False) -> RunOutcome:
    """One run folder: prepare its dataset, print the plan, run the stages and methods. With
    plan_only: results {"plan": Plan} and nothing trained."""
    fresh = not folder.root.exists() or not any(folder.root.iterdir())
    started = time.perf_counter()
    failed = False
    try:
        with folder.lock():
            try:
                data = prepare_dataset(cfg, folder.data_dir)
            except BaseException:
                failed = fresh
                raise
            folder.adopt(data)
            ctx = Context(cfg, data, folder, runner, verbose)
            plan = plan_run(ctx, until)
            if plan_only:
                failed = fresh                  # a plan leaves no new run folder behind
                return RunOutcome({"plan": plan}, {})
            say(plan.render())
            atomic_write_text(folder.root / "config.yaml", dump_config(cfg))
            return _run_stages(ctx, until, started)
    finally:
        if failed:
            shutil.rmtree(folder.root, ignore_errors=True)


def plan_folders(cfg: RunConfig, out: Path, runner: Executor, until: str = "all") -> list[Plan]:
    """`hmtl run --plan`: the plan of each run folder (one per split), nothing trained. The
    dataset is prepared for it (its features stay in the feature cache); a folder made only
    for that is removed again."""
    if cfg.data.splits == 1:
        return [run_one(cfg, RunHandle(out), runner, until, plan_only=True).results["plan"]]
    from .splits import split_config

    fresh = not out.exists()
    try:
        return [run_one(split_config(cfg, i), RunHandle(out / f"split-{i}"), runner, until,
                        plan_only=True).results["plan"] for i in range(cfg.data.splits)]
    finally:
        if fresh:
            shutil.rmtree(out, ignore_errors=True)


def check_methods(cfg: RunConfig) -> None:
    """Every method the config names is registered (the baselines register themselves when
    this module imports them)."""
    unknown = [m for m in cfg.methods if m not in METHODS]
    if unknown:
        raise HmtlError(f"methods: unknown method(s) {unknown}; known: {list(METHODS)}")
    matched = [m.name for m in METHODS.values() if m.size_matched]
    wrong = [m for m in cfg.baselines.at_budgets if m not in matched]
    if wrong:
        raise HmtlError(f"baselines.at_budgets: {wrong} are not size-matched baselines; "
                        f"known: {matched}")


def _run_stages(ctx: Context, until: str, started: float) -> RunOutcome:
    cfg, out_dir, L = ctx.cfg, ctx.out_dir, ctx.depth
    clock = {"prepare": round(time.perf_counter() - started, 2)}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        clock[name] = round(now - since, 2)
        return now

    t = time.perf_counter()
    say(f"stage 1: {len(ctx.tasks)} isolated models × {len(ctx.seeds)} seed(s)")
    state = SearchState(stage1=run_stage1(ctx))
    t = lap("stage1", t)
    if until != "stage1" and len(ctx.tasks) > 1:
        say(f"stage 2: {len(ctx.tasks) * (len(ctx.tasks) - 1) // 2} pairs × up to {L} depths")
        state.pairs = run_stage2(ctx, state.stage1)
        state.predictor = DropPredictor(state.pairs, Rule(cfg, state.stage1))
        tree = tree_from_pairs(ctx.tasks, L, state.pairs)
        if cfg.search.budget_params is not None:
            chosen, _ = budget_tree(ctx, state.predictor, cfg.search.budget_params,
                                    choose=until not in ("stage1", "stage2"))
            tree = chosen.spec
            why = (f"validation drop {100 * chosen.validation:.2f} pts (predicted "
                   f"{100 * chosen.predicted:.2f})" if chosen.validation is not None else
                   f"the lowest predicted drop ({100 * chosen.predicted:.2f} pts)")
            state.notes.append(f"budget: {chosen.params:,} params (at most "
                               f"{cfg.search.budget_params:,}), {why} {chosen.how}")
        state.tree = tree
        say("stage 3: tree\n" + tree.render("  "))
        t = lap("stage2", t)
        if cfg.search.stability:
            state.stability = repeat_search(ctx, state.pairs, cfg.search.stability)
            t = lap("stability", t)
    else:
        state.tree = TreeSpec.independent(ctx.tasks, L)
    if until not in ("stage1", "stage2"):
        say("final: training the tree")
        train_final(ctx, state)
        t = lap("final", t)

    methods = {}
    for name in cfg.methods:
        if name == "hierarchical" and not state.final_records:
            continue
        if until in ("stage1", "stage2") and name != "independent":
            continue
        entry = METHODS[name].run(ctx, state)
        if entry is not None:                      # None: the method has nothing to train here
            methods[name] = entry
    extra, at_budgets = {}, []
    if cfg.search.budgets and state.final_records and state.predictor is not None:
        say("budget trees")
        extra["budgets"], at_budgets = budgets_with_baselines(ctx, state, methods)
    if state.stability is not None:
        extra["stability"] = state.stability
    if state.predictor is not None and "independent" in methods:
        extra["predictor"] = check_predictor(ctx, state, methods, extra.get("budgets", []))
    extra["diagnostics"] = diagnostics(methods, ctx.tasks, class_names(ctx))
    lap("methods", t)
    results = build_results(
        ctx.tasks, ctx.seeds, methods, [p.to_json() for p in state.pairs], search_cost(ctx, state),
        extra={**extra,
               "hierarchy": {"tree": state.tree.to_json(), "notes": state.notes, "stage": until},
               "run": {"wall_seconds": round(time.perf_counter() - started, 1),
                       "trained_now": ctx.executor.trained, "reused": ctx.executor.reused,
                       "executor": ctx.executor.name, "stage_seconds": clock,
                       "threads_per_training": sorted(ctx.executor.threads_seen)}})
    keep_deployment_figures(out_dir / "results.json", results)
    write_results(out_dir, results)
    write_report_safely(out_dir)
    return RunOutcome(results, methods, at_budgets)


def budgets_with_baselines(ctx: Context, state: SearchState, methods: dict[str, MethodResult]
                           ) -> tuple[list[dict], list[dict[str, MethodResult]]]:
    """search.budgets' trees, each with the run's size-matched baselines (those of
    baselines.at_budgets) retrained at its size and every method compared with it, as the
    hierarchical tree is: results.json's rows, and each budget's methods."""
    out, compared = [], []
    trained = train_budget_trees(ctx, state.predictor, methods.get("independent"))
    for tb in trained:
        at_size = dataclasses.replace(state, tree=tb.tree.spec, final_records=tb.records)
        here = {REFERENCE: tb.entry}                  # the budget tree is the reference here
        for name in ctx.cfg.methods:
            if name == REFERENCE:
                continue
            if name in methods and not METHODS[name].size_matched:
                here[name] = methods[name]            # independent, flat: one size for all
            elif METHODS[name].size_matched and name in ctx.cfg.baselines.at_budgets:
                say(f"budget {tb.tree.budget:,}: {name} at this size")
                entry = METHODS[name].run(ctx, at_size)
                if entry is not None:
                    here[name] = entry
        row = {**budget_json(tb, state.predictor),
               **compared_at_budget(here, methods.get("independent"), ctx.tasks)}
        out.append(row)
        compared.append(here)
    return out, compared


def compared_at_budget(here: dict[str, MethodResult], independent: MethodResult | None,
                       tasks: list[str]) -> dict:
    """A budget row's size-matched baselines (each against the independent set) and every
    method's paired comparison with the budget tree."""
    row = {"baselines": {n: {**e.to_json(), **({"vs_independent": compare(e, independent, tasks)}
                                               if independent is not None else {})}
                         for n, e in here.items() if METHODS[n].size_matched}}
    if found := compare_methods(here, tasks):
        row["comparisons"] = found
    return row


def check_predictor(ctx: Context, state: SearchState, methods: dict, budgets: list[dict]) -> dict:
    """The predictor against every trained tree-shaped model of this run's widths: the methods'
    trees, the budget trees, and each random tree (of the τ-tree's size and of each budget's),
    which are many trees of one size, the case the budgets choose among."""
    trees = []
    for name, entry in methods.items():
        if entry.tree is not None and entry.vs_independent is None and "independent" in methods:
            entry.vs_independent = compare(entry, methods["independent"], ctx.tasks)
        if entry.tree is not None and entry.nonzero_params == entry.params:
            trees.append((name, TreeSpec.from_json(ctx.tasks, entry.tree),
                          entry.vs_independent["mean_drop"], entry.params))
    for b in budgets:
        trees.append((f"budget {b['budget']}", TreeSpec.from_json(ctx.tasks, b["tree"]),
                      b["method"]["vs_independent"]["mean_drop"], b["params"]))
    nulls = [("", methods["random_tree"].details)] if "random_tree" in methods else []
    nulls += [(f" at budget {b['budget']}", b["baselines"]["random_tree"]) for b in budgets
              if "random_tree" in (b.get("baselines") or {})]
    for where, details in nulls:
        for i, t in enumerate(details.get("trees") or []):
            trees.append((f"random tree {i}{where}", TreeSpec.from_json(ctx.tasks, t["tree"]),
                          t["mean_drop"], t["params"]))
    return predictor_check(trees, state.predictor)


DEPLOYMENT_KEYS = ("latency_ms", "onnx_bytes")


def keep_deployment_figures(previous: Path, results: dict) -> None:
    """`hmtl export --latency` adds latency and size to results.json; a rerun of the same run
    keeps them for every method whose model is unchanged (same tree and parameter count)."""
    if not previous.exists():
        return
    try:
        old = json.loads(previous.read_text())["methods"]
    except (ValueError, KeyError, OSError):
        return
    for name, entry in results["methods"].items():
        before = old.get(name, {})
        if before.get("tree") == entry.get("tree") and before.get("params") == entry.get("params"):
            entry.update({k: before[k] for k in DEPLOYMENT_KEYS if k in before})


def class_names(ctx: Context) -> dict[str, list[str]]:
    """Each classification task's class names, in label order (the diagnostics' rows)."""
    data = ctx.data
    return {t: [str(c) for c in data.task_info(t).classes or range(data.head_size(t))]
            for t in ctx.tasks if data.type_of(t).name == "classification"}


def write_report_safely(out_dir: Path) -> None:
    """The report and the model card are views of results.json: if drawing them fails, the
    results still stand."""
    for what, writer in (("report.html", "write_report"), ("MODEL_CARD.md", "write_model_card")):
        try:
            from .. import report

            getattr(report, writer)(out_dir)
        except Exception as e:  # noqa: BLE001 - a plotting failure must not lose a finished run
            say(f"{what} could not be written ({type(e).__name__}: {e}); "
                f"`hmtl report {out_dir}` retries")


def search_cost(ctx: Context, state: SearchState) -> dict:
    """What finding the tree cost: stage-1 and stage-2 trainings and their training time."""
    stage1 = [r for recs in state.stage1.records.values() for r in recs]
    depths = [o for p in state.pairs for o in p.depths.values()]
    seeds = len(ctx.seeds)
    return {"trainings": len(stage1) + seeds * sum(o.trained for o in depths),
            "skipped": seeds * sum(not o.trained for o in depths),
            "prescreened": seeds * sum(o.prescreened for o in depths),
            "seconds": round(sum(r.seconds for r in stage1) + sum(o.seconds for o in depths), 1),
            "device": stage1[0].device, "sweep": ctx.cfg.search.sweep,
            "warm_start": ctx.cfg.search.warm_start,
            "early_exit": ctx.cfg.search.sweep != "exhaustive",
            "prescreen": ctx.cfg.search.prescreen}
