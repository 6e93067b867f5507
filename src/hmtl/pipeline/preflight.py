"""What the plan (plan.py) needs from the run itself: the data's parameter counts and relative
compute, the trainings the run folder already holds, and how long one training takes, from
finished stage-1 trainings or by timing a few optimizer steps on the real data.

Nothing here trains a job, writes to the run folder or moves a random stream a training reads
(the timed steps run under a forked RNG, at the executor's thread count, restored after), so a
run's results are the same with or without its plan."""

from __future__ import annotations

import dataclasses
import itertools
import json
import statistics
import time
from dataclasses import dataclass

import torch

from ..baselines.lt4rec import base_model
from ..baselines.masks import prunable_names
from ..baselines.pruning import imp_schedule
from ..config import ModelConfig
from ..errors import HmtlError
from ..executors import Executor
from ..models import TreeSpec, build_model
from ..search.budget import candidate_seeds, resolve_budgets
from ..search.context import Context
from ..search.stage2 import pair_job
from ..training.batches import train_batches
from ..training.device import Autocast, on_device, resolve_device, seed_everything
from ..training.job import TrainJob
from ..training.multitask import TaskSet, measured_splits
from ..training.plain import PlainTrainee, WithAux
from .plan import Plan, Sizes, StagePlan, n_of, plan_stages

CALIBRATION_STEPS = 5
WARMUP_STEPS = 2           # first steps pay for allocations and kernel choices: not timed
# job tags of what the plan cannot enumerate before the run decides it (the tree, random trees,
# pruning rounds): counted as done when a finished training of this run carries the tag
TAGS = {"final tree": ("hierarchical", "repair "), "budget candidates": ("candidate ",),
        "budget trees": ("budget ",),
        "flat_matched": ("flat_matched",), "branched": ("branched",),
        "random_tree": ("random_tree ",), "lth": ("lth ",), "lt4rec": ("lt4rec ",)}


def plan_run(ctx: Context, until: str = "all") -> Plan:
    """The run's plan: its stages, what is done, and a time estimate for the rest."""
    tagged, searched = _tagged(ctx)
    measured = sizes(ctx, searched)

    def plan_with(size: Sizes) -> Plan:
        return Plan(with_done(ctx, plan_stages(ctx.cfg, until, size), tagged),
                    parallel=_parallel(ctx.executor))

    plan = plan_with(measured)
    if plan.todo == 0:
        return plan
    timed = calibrate(ctx)
    measured = dataclasses.replace(measured, units={**measured.units, **timed.units})
    seconds, how = from_records(ctx)
    if seconds is None:
        seconds, how = timed.seconds, timed.how
    how += "; a step of each kind of model, in isolated-model steps: " + ", ".join(
        f"{kind} {u:.1f}" for kind, u in timed.units.items() if kind != "single")
    return dataclasses.replace(plan_with(measured), seconds_per_training=seconds,
                               calibration=how)


# ----------------------------------------------------------------------------- sizes

def sizes(ctx: Context, searched: int | None = None) -> Sizes:
    """Parameter counts and each kind of model's compute (MACs) relative to an isolated one;
    `searched`: the final tree's params, when the run folder holds it."""
    with torch.random.fork_rng(devices=[]):        # building models draws initial weights
        return dataclasses.replace(_sizes(ctx), searched=searched)


def _sizes(ctx: Context) -> Sizes:
    tasks, L = ctx.tasks, ctx.depth
    single = statistics.mean(ctx.cost(TreeSpec.single(t, L))[1] for t in tasks)
    independent = ctx.cost(TreeSpec.independent(tasks, L))
    flat = ctx.cost(TreeSpec.flat(tasks, L))
    pairs = [ctx.cost(TreeSpec.pair(a, b, k, L))[1]
             for a, b in itertools.combinations(tasks, 2) for k in range(1, L + 1)]
    units = {"single": 1.0, "flat": flat[1] / single,
             "pair": statistics.mean(pairs) / single if pairs else 1.0,
             "tree": (flat[1] + independent[1]) / 2 / single,   # a tree between the two
             "lt4rec": independent[1] / single}                 # widened to the independent size
    imp = _imp_rounds(ctx) if "lth" in ctx.cfg.methods else None
    try:
        budgets = tuple(resolve_budgets(ctx.cfg.search.budgets, independent[0], flat[0]))
    except ValueError:
        budgets = ()                               # the run will say which budget cannot be met
    return Sizes(independent=independent[0], flat=flat[0], units=units, imp_rounds=imp,
                 budgets=budgets)


def _imp_rounds(ctx: Context):
    """LTH's rounds down to a target, from the single-task models' prunable weights."""
    b = ctx.cfg.baselines
    prunable, fixed = {}, 0
    for t in ctx.tasks:
        model = ctx.build_model(TreeSpec.single(t, ctx.depth))
        params = dict(model.named_parameters())
        prunable[t] = sum(params[n].numel() for n in prunable_names(model, b.prune_heads))
        fixed += model.cost()[0] - prunable[t]

    def rounds(target: int) -> int:
        try:
            return len(imp_schedule(prunable, fixed, target, b.pruning_rate))
        except HmtlError:
            return 0                               # the run will say the target is too small
    return rounds


# ----------------------------------------------------------------------------- what is done

def _finished(ctx: Context, jobs: list[TrainJob]) -> int:
    return sum((ctx.store.folder(j) / "metrics.json").exists() for j in jobs)


def with_done(ctx: Context, stages: list[StagePlan],
              tagged: dict[str, int]) -> list[StagePlan]:
    """Each stage with the number of its trainings the run folder holds (`tagged`: finished
    trainings by tag prefix, for what cannot be enumerated before the run)."""
    L, seeds, tasks = ctx.depth, ctx.seeds, ctx.tasks
    out = []
    for s in stages:
        if s.name == "stage 1":
            n = _finished(ctx, [ctx.job(TreeSpec.single(t, L), seed, "") for t in tasks
                                for seed in seeds])
        elif s.name == "stage 2":
            n = _finished(ctx, _pair_jobs(ctx))
        elif s.name == "stability":
            n = 0
            for i in range(1, ctx.cfg.search.stability + 1):
                again = dataclasses.replace(ctx, seed_offset=ctx.seed_offset + len(seeds) * i)
                n += _finished(again, [again.job(TreeSpec.single(t, L), seed, "") for t in tasks
                                       for seed in again.seeds] + _pair_jobs(again))
        elif s.name == "flat":
            n = _finished(ctx, ctx.jobs(TreeSpec.flat(tasks, L), ""))
        else:
            n = sum(tagged.get(tag, 0) for tag in TAGS.get(s.name, ()))
        out.append(dataclasses.replace(s, done=min(s.trainings, n)))
    return out


def _pair_jobs(ctx: Context) -> list[TrainJob]:
    return [pair_job(ctx, None, a, b, k, seed) for a, b in itertools.combinations(ctx.tasks, 2)
            for k in range(1, ctx.depth + 1) for seed in ctx.seeds]


def _tagged(ctx: Context) -> tuple[dict[str, int], int | None]:
    """Finished trainings of this run's data, recipe and seeds, counted by tag prefix; and the
    final tree's params when it is among them (unrepaired: the tree the baselines match)."""
    base = ctx.job(TreeSpec.single(ctx.tasks[0], ctx.depth), 0, "").identity()
    prefixes = [p for tags in TAGS.values() for p in tags]
    counts: dict[str, int] = {}
    searched = None
    root = ctx.store.root
    for folder in root.iterdir() if root.is_dir() else ():
        if not (folder / "metrics.json").exists():
            continue
        try:
            job = json.loads((folder / "job.json").read_text())
        except (OSError, ValueError):
            continue
        tag = str(job.get("tag", ""))
        seeds = candidate_seeds(ctx) if tag.startswith("candidate ") else ctx.seeds
        if job.get("data") != base["data"] or job.get("train") != base["train"] \
                or job.get("seed") not in seeds:
            continue
        for p in prefixes:
            if tag == p or (p.endswith(" ") and tag.startswith(p)):
                counts[p] = counts.get(p, 0) + 1
        if tag == "hierarchical" and not ctx.cfg.search.repair_rounds:
            try:
                searched = int(json.loads((folder / "metrics.json").read_text())["params"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
    return counts, searched


# ----------------------------------------------------------------------------- how fast

def from_records(ctx: Context) -> tuple[float | None, str]:
    """Seconds of one isolated model's training, from the run's finished stage-1 trainings."""
    records = [ctx.store.load(ctx.job(TreeSpec.single(t, ctx.depth), s, ""))
               for t in ctx.tasks for s in ctx.seeds]
    records = [r for r in records if r is not None and r.epochs]
    if not records:
        return None, ""
    seconds = statistics.mean(r.seconds for r in records)
    epochs = statistics.mean(r.epochs for r in records)
    return seconds, (f"{seconds:.1f} s per isolated model from {len(records)} finished "
                     f"{'training' if len(records) == 1 else 'trainings'}, {epochs:.0f} epochs on "
                     f"average, {records[0].device}")


@dataclass(frozen=True)
class Calibration:
    seconds: float              # one isolated model's training of train.epochs epochs
    how: str                    # where that figure comes from, for people
    units: dict[str, float]     # a step of each kind of model over an isolated model's step


def calibrate(ctx: Context, steps: int = CALIBRATION_STEPS) -> Calibration:
    """Seconds of one isolated model's training of train.epochs epochs, from timing `steps`
    optimizer steps and one validation pass of the first task's model on the run's data, at
    the executor's thread count (early stopping usually ends a training sooner); and the step
    time of each other kind of model the plan counts, relative to it. Small models spend most
    of a step on work that does not grow with their MACs, so MACs would overstate what a
    pair, a tree or LT4REC's widened network costs."""
    threads = torch.get_num_threads()
    try:
        if ctx.executor.threads:
            torch.set_num_threads(ctx.executor.threads)
        with torch.random.fork_rng(devices=_cuda_devices(ctx.cfg.train.device)):
            kinds = _kinds(ctx)
            step, validation, device = _time_steps(ctx, steps, *kinds["single"])
            times = {kind: _time_steps(ctx, steps, *spec, validate=False)[0]
                     for kind, spec in kinds.items() if kind != "single"}
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads)
    units = {kind: t / step for kind, t in times.items()}
    if "flat" in units and "independent" in units:        # a tree lies between the two
        units["tree"] = (units["flat"] + units.pop("independent")) / 2
    cfg, data = ctx.cfg.train, ctx.data
    steps_per_epoch = -(-len(data.indices("train")) // cfg.batch_size)
    per_epoch = steps_per_epoch * step + validation
    seconds = cfg.epochs * per_epoch + 2 * validation      # + the final val and test measures
    threads_text = f", {n_of(used, 'thread')}" if device == "cpu" else ""
    how = (f"{steps} steps timed on {device}{threads_text}: {step:.3f} s per step × "
           f"{steps_per_epoch} + {validation:.2f} s validation = {per_epoch:.2f} s per epoch × "
           f"{cfg.epochs} epochs per isolated model; early stopping may end sooner")
    return Calibration(seconds, how, units)


def _kinds(ctx: Context) -> dict[str, tuple[TreeSpec, ModelConfig | None]]:
    """A model of each kind the plan counts: its tree, and a model config other than the
    run's where it has one (LT4REC's widened network)."""
    tasks, L = ctx.tasks, ctx.depth
    kinds = {"single": (TreeSpec.single(tasks[0], L), None)}
    if len(tasks) > 1:
        flat = TreeSpec.flat(tasks, L)
        kinds.update(pair=(TreeSpec.pair(tasks[0], tasks[1], max(1, L // 2), L), None),
                     flat=(flat, None), independent=(TreeSpec.independent(tasks, L), None))
        if "lt4rec" in ctx.cfg.methods:
            kinds["lt4rec"] = (TreeSpec.single(tasks[0], L), base_model(ctx, flat))
    return kinds


def _cuda_devices(name: str) -> list[int]:
    """The CUDA device whose random stream the timed steps use (fork_rng restores it)."""
    if not torch.cuda.is_available() or name == "cpu":
        return []
    return [int(name.split(":")[1]) if ":" in name else torch.cuda.current_device()]


def _time_steps(ctx: Context, steps: int, spec: TreeSpec, model: ModelConfig | None = None,
                validate: bool = True) -> tuple[float, float, str]:
    """(seconds per optimizer step, seconds per validation pass, device) of the tree `spec`
    (with `model` instead of the run's, if given), built and stepped as train_job does it
    (plain.py), one batch at a time."""
    data, tasks = ctx.data, list(spec.tasks)
    job = ctx.job(spec, 0, "calibration")
    if model is not None:
        job = dataclasses.replace(job, model=model)
    device = resolve_device(job.train.device)
    taskset = TaskSet(data, tasks, dict(job.weights))
    x, y_all, v_all = on_device(data, device)
    y = y_all[:, taskset.cols]
    v = v_all[:, taskset.cols] if (v_all is not None and taskset.needs_values) else None
    train_idx = data.indices("train").to(device)
    train_idx = train_idx[(y[train_idx] >= 0).any(dim=1)]
    clips = measured_splits(data, job.train.selection, device)
    seed_everything(job.seed)
    model = build_model(job.spec, job.model, {t: data.head_size(t) for t in tasks},
                        data.x.shape[1], data.frames)
    model.set_input_stats(data.mean, data.std)
    aux = taskset.aux_modules()
    trained = (WithAux(model, aux) if len(aux) else model).to(device)
    generator = torch.Generator(device=device)
    generator.manual_seed(job.seed + 1)
    runner = Autocast(trained, job.train, device) if job.train.precision == "bf16" else trained

    def batches(epoch: int):                       # one full batch per call
        return itertools.islice(train_batches(x, y, train_idx, job.train.batch_size,
                                              data.frames, generator, v), 1)

    trainee = PlainTrainee(
        runner, batches,
        taskset.loss(aux if len(aux) else None),
        lambda m: taskset.score(taskset.evaluate(m, x, y, v, clips["select"], data.frames,
                                                 "select")),
        job.train, max(1, -(-len(train_idx) // job.train.batch_size)))
    times = []
    for i in range(WARMUP_STEPS + steps):          # each call returns a float: waits for the device
        start = time.perf_counter()
        trainee.train_epoch(i + 1)
        times.append(time.perf_counter() - start)
    step = statistics.median(times[WARMUP_STEPS:])  # robust to a busy machine's stalls
    if not validate:
        return step, 0.0, device.type
    trainee.validate()                             # the first pass is a warm-up too
    start = time.perf_counter()
    trainee.validate()
    return step, time.perf_counter() - start, device.type


def _parallel(executor: Executor) -> int:
    """Trainings the executor runs at once, where it says (local:N, dask-local:N)."""
    return int(getattr(executor, "workers", None) or 1)
