"""Executors run training jobs. Stages hand over a list of jobs and get their records back, in
order; how the jobs run (here, in a pool, on a cluster) is the executor's business. Every job
writes its own hashed run folder, so any executor can resume any run."""

from __future__ import annotations

import time
from typing import Callable

from .data.dataset import Dataset
from .errors import HmtlError
from .training.job import RunStore, TrainJob
from .utils.progress import bar, say


class SerialExecutor:
    """One job after the other in this process: the reference every other executor must match."""

    name = "serial"

    def __init__(self):
        self.trained = 0
        self.reused = 0
        self.seconds = 0.0

    def run(self, jobs: list[TrainJob], store: RunStore, data: Dataset, desc: str = "",
            on_record: Callable[[TrainJob, dict, bool], None] | None = None) -> list[dict]:
        records = []
        progress = bar(len(jobs), desc=desc or "trainings", unit="model")
        for job in jobs:
            start = time.perf_counter()
            record, trained = store.run(job, data)
            if trained:
                self.trained += 1
                self.seconds += time.perf_counter() - start
            else:
                self.reused += 1
            if on_record is not None:
                on_record(job, record, trained)
            records.append(record)
            progress.update(1)
        progress.close()
        return records


def make_executor(spec: str = "serial") -> SerialExecutor:
    if spec == "serial":
        return SerialExecutor()
    raise HmtlError(f"executor '{spec}': unknown; available: serial")


def describe(job: TrainJob, record: dict, trained: bool) -> str:
    """One status line per finished training."""
    val = record["val"]
    scores = " ".join(f"{t}={val[t]['accuracy']:.3f}" for t in record["tasks"])
    how = f"trained in {record['seconds']:.1f}s" if trained else "done earlier"
    return f"  {job.tag or job.key} seed={job.seed}: val {scores} ({how})"


def log_record(job: TrainJob, record: dict, trained: bool) -> None:
    say(describe(job, record, trained))
