"""The executor interface, its registry, the serial reference, and the function every worker
runs.

An executor gets jobs and a RunHandle, and returns the jobs' records in order. Finished jobs are
read back without being shipped anywhere. The others are grouped into units (one job each, or
same-shape jobs trained together as one packed network) and each unit runs through `execute`,
in this process or a worker's."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from ..errors import HmtlError
from ..records import TrainRecord
from ..training.job import TrainJob
from ..training.packed import packs, train_packed
from ..utils.progress import bar, say
from .handle import RunHandle

OnRecord = Callable[[TrainJob, TrainRecord, bool], None]
Unit = list[TrainJob]                 # jobs trained together: one, or a pack of one shape


def set_threads(threads: int | None) -> None:
    """Intra-op threads of this process. Results are bitwise reproducible for a given count,
    so executors that must agree use the same count per training."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def execute(unit: Unit, run: RunHandle, threads: int | None = None
            ) -> list[tuple[TrainRecord, bool]]:
    """Run one unit in whatever process this is: open the run's dataset (once per process),
    train what the run folder does not hold yet (a pack as one network), store it, and return
    each job's (record, trained_now)."""
    set_threads(threads)
    data, store = run.dataset(unit[0].data_key), run.store
    found = [store.load(job) for job in unit]
    todo = [job for job, record in zip(unit, found) if record is None]
    if len(todo) == 1:
        trained = [todo[0].execute(data)]
    else:
        trained = train_packed(todo, data) if todo else []
    fresh = {}
    for job, (record, state) in zip(todo, trained):
        store.save(job, record, state)
        fresh[job.key] = record
    return [(record, False) if record is not None else (fresh[job.key], True)
            for job, record in zip(unit, found)]


class Executor:
    """Runs what is not finished yet, unit by unit, through `_submit`, in any order, and reports
    records in job order."""

    name = "base"
    workers = 1                    # units that run at once

    def __init__(self, threads: int | None = None):
        self.threads = threads
        self.pack = 1                  # up to this many same-shape jobs train as one network
        self.trained = 0
        self.reused = 0
        self.seconds = 0.0
        self.threads_seen: set[int] = set()    # torch threads of the trainings behind the records

    def units(self, jobs: list[TrainJob], run: RunHandle) -> list[list[int]]:
        """Which of `jobs` train together (indices): every job alone, or, when the executor
        packs, same-shape jobs up to `pack` at a time, spread over the workers (a pool of two
        gets two packs of 5 rather than one of 10 and an idle worker)."""
        if self.pack <= 1 or not jobs:
            return [[j] for j in range(len(jobs))]
        size = min(self.pack, -(-len(jobs) // max(1, self.parallel())))
        return packs(jobs, run.dataset(jobs[0].data_key), size)

    def parallel(self) -> int:
        """How many units run at once (a remote cluster answers once connected)."""
        return self.workers or 1

    def _submit(self, units: list[Unit], run: RunHandle
                ) -> Iterable[tuple[int, list[tuple[TrainRecord, bool]]]]:
        """Yield (index in units, its jobs' (record, trained_now)) as units finish."""
        raise NotImplementedError

    def run(self, jobs: list[TrainJob], run: RunHandle, desc: str = "",
            on_record: OnRecord | None = None) -> list[TrainRecord]:
        records: list[TrainRecord | None] = [None] * len(jobs)
        progress = bar(len(jobs), desc=desc or "trainings", unit="model")
        store, todo = run.store, []
        for i, job in enumerate(jobs):
            rec = store.load(job)
            if rec is None:
                todo.append(i)
                continue
            records[i] = rec
            self._count(job, rec, False, on_record)
            progress.update(1)
        start = time.perf_counter()
        groups = [[todo[j] for j in g] for g in self.units([jobs[i] for i in todo], run)]
        for u, outcomes in self._submit([[jobs[i] for i in g] for g in groups], run):
            for i, (rec, trained) in zip(groups[u], outcomes):
                records[i] = rec
                self._count(jobs[i], rec, trained, on_record)
                progress.update(1)
        self.seconds += time.perf_counter() - start
        progress.close()
        return records  # type: ignore[return-value]

    def _count(self, job: TrainJob, record: TrainRecord, trained: bool,
               on_record: OnRecord | None) -> None:
        if trained:
            self.trained += 1
        else:
            self.reused += 1
        if record.threads is not None:      # absent from records of older hmtl versions
            self.threads_seen.add(int(record.threads))
        if on_record:
            on_record(job, record, trained)

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------- the registry

@dataclass(frozen=True)
class ExecutorKind:
    name: str
    usage: str                                       # as written on the command line
    make: Callable[[str, int | None], Executor]      # (the part after "name:", threads)


EXECUTORS: dict[str, ExecutorKind] = {}


def register_executor(name: str, usage: str):
    """Register an Executor class under `name`; `cls.from_spec(arg, threads)` builds it from
    the text after "name:" (empty when there is none)."""
    def deco(cls):
        EXECUTORS[name] = ExecutorKind(name, usage, cls.from_spec)
        cls.name = name
        return cls
    return deco


PACKED = "+packed"


def make_executor(spec: str = "serial", threads: int | None = None) -> Executor:
    """An executor from its command-line spec: serial, local:N, dask-local:N, dask://HOST:PORT,
    packed[:K], or whatever else is registered; any of them followed by +packed[:K] trains
    same-shape jobs K at a time as one network (default 64), e.g. local:2+packed."""
    base, plus, pack = spec.partition(PACKED)
    if plus:
        size = pack[1:]
        if not (pack == "" or pack[:1] == ":" and size.isdigit() and int(size) >= 1):
            raise HmtlError(f"executor '{spec}': expected …{PACKED} or …{PACKED}:K with K >= 1")
        executor = make_executor(base or "serial", threads)
        executor.pack = int(size) if size else 64
        executor.name = f"{executor.name}{PACKED}"
        return executor
    if "://" in spec:                                # an address: dask://HOST:PORT, tcp://…
        kind, arg = "dask", spec
    else:
        kind, _, arg = spec.partition(":")
    if kind in EXECUTORS:
        try:
            return EXECUTORS[kind].make(arg, threads)
        except ValueError:
            pass
    usages = [k.usage for k in EXECUTORS.values()]
    raise HmtlError(f"executor '{spec}': expected {', '.join(usages[:-1])} or {usages[-1]}")


# ----------------------------------------------------------------------------- serial

@register_executor("serial", "serial")
class SerialExecutor(Executor):
    """One unit after the other in this process: the reference every other executor matches."""

    @classmethod
    def from_spec(cls, arg: str, threads: int | None) -> "SerialExecutor":
        if arg:
            raise ValueError(arg)
        return cls(threads)

    def _submit(self, units, run):
        for u, unit in enumerate(units):
            yield u, execute(unit, run, self.threads)


def cpu_share(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def describe(job: TrainJob, record: TrainRecord, trained: bool) -> str:
    """One status line per finished training."""
    val = record.val
    shown = {t: record.metric(t) for t in record.tasks}
    scores = " ".join(f"{t}={val[t][m]:.3f}" if m == "accuracy" else f"{t} {m}={val[t][m]:.3f}"
                      for t, m in shown.items())
    how = f"trained in {record.seconds:.1f}s" if trained else "done earlier"
    if (record.packed or 1) > 1 and trained:
        how += f", packed ×{record.packed}"
    return f"  {job.tag or job.key} seed={job.seed}: val {scores} ({how})"


def log_record(job: TrainJob, record: TrainRecord, trained: bool) -> None:
    say(describe(job, record, trained))
