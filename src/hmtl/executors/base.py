"""The executor interface, the serial reference, and the function every worker runs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterable

from ..data.dataset import Dataset, load_dataset
from ..training.job import RunStore, TrainJob
from ..utils.progress import bar, say

OnRecord = Callable[[TrainJob, dict, bool], None]


def set_threads(threads: int | None) -> None:
    """Intra-op threads of this process. Results are bitwise reproducible for a given count,
    so executors that must agree use the same count per training."""
    if threads:
        import torch

        torch.set_num_threads(threads)


_DATASETS: dict[str, Dataset] = {}


def execute(job: TrainJob, run_dir: str, threads: int | None = None) -> tuple[dict, bool]:
    """Run one job in whatever process this is: load the run's dataset once per process, train
    unless the job's folder says it is done, and return (record, trained_now)."""
    set_threads(threads)
    run_dir = str(run_dir)
    if run_dir not in _DATASETS:
        _DATASETS[run_dir] = load_dataset(Path(run_dir) / "data")
    return RunStore(Path(run_dir) / "runs").run(job, _DATASETS[run_dir])


class Executor:
    """Runs what is not finished yet through `_submit`, in any order, and reports records in
    job order. Finished jobs are read back here without being shipped anywhere."""

    name = "base"

    def __init__(self, threads: int | None = None):
        self.threads = threads
        self.trained = 0
        self.reused = 0
        self.seconds = 0.0
        self.threads_seen: set[int] = set()    # torch threads of the trainings behind the records

    def _submit(self, jobs: list[TrainJob], store: RunStore, data: Dataset
                ) -> Iterable[tuple[int, dict, bool]]:
        """Yield (index in jobs, record, trained_now) as jobs finish."""
        raise NotImplementedError

    def run(self, jobs: list[TrainJob], store: RunStore, data: Dataset, desc: str = "",
            on_record: OnRecord | None = None) -> list[dict]:
        records: list[dict | None] = [None] * len(jobs)
        progress = bar(len(jobs), desc=desc or "trainings", unit="model")
        todo = []
        for i, job in enumerate(jobs):
            rec = store.load(job)
            if rec is None:
                todo.append(i)
                continue
            records[i] = rec
            self.reused += 1
            self._saw(rec)
            if on_record:
                on_record(job, rec, False)
            progress.update(1)
        start = time.perf_counter()
        for j, rec, trained in self._submit([jobs[i] for i in todo], store, data):
            i = todo[j]
            records[i] = rec
            self._saw(rec)
            if trained:
                self.trained += 1
            else:
                self.reused += 1
            if on_record:
                on_record(jobs[i], rec, trained)
            progress.update(1)
        self.seconds += time.perf_counter() - start
        progress.close()
        return records  # type: ignore[return-value]

    def _saw(self, record: dict) -> None:
        if record.get("threads") is not None:      # absent from records of older hmtl versions
            self.threads_seen.add(int(record["threads"]))

    def close(self) -> None:
        pass


class SerialExecutor(Executor):
    """One job after the other in this process: the reference every other executor matches."""

    name = "serial"

    def _submit(self, jobs, store, data):
        set_threads(self.threads)
        for j, job in enumerate(jobs):
            rec, trained = store.run(job, data)
            yield j, rec, trained


def cpu_share(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def describe(job: TrainJob, record: dict, trained: bool) -> str:
    """One status line per finished training."""
    from ..metrics import primary_metric

    val = record["val"]
    shown = {t: primary_metric(val[t]) for t in record["tasks"]}
    scores = " ".join(f"{t}={val[t][m]:.3f}" if m == "accuracy" else f"{t} {m}={val[t][m]:.3f}"
                      for t, m in shown.items())
    how = f"trained in {record['seconds']:.1f}s" if trained else "done earlier"
    if record.get("packed", 1) > 1 and trained:
        how += f", packed ×{record['packed']}"
    return f"  {job.tag or job.key} seed={job.seed}: val {scores} ({how})"


def log_record(job: TrainJob, record: dict, trained: bool) -> None:
    say(describe(job, record, trained))
