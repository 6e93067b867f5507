"""A pool of worker processes on this machine. Each worker gets an equal share of the cores
(torch threads), and, when trainings run on CUDA, its own GPU in turn."""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from .base import Executor, cpu_share, execute


def _init_worker(counter, gpus: int) -> None:
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    if gpus > 0:  # before torch initialises CUDA in this process
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % gpus)


def visible_gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # pragma: no cover
        return 0


class LocalPoolExecutor(Executor):
    name = "local"

    def __init__(self, workers: int, threads: int | None = None):
        super().__init__(threads or cpu_share(workers))
        self.workers = max(1, workers)
        self._pool = None

    def _ensure_pool(self, cuda: bool):
        if self._pool is None:
            ctx = mp.get_context("spawn")  # torch and fork do not mix
            counter = ctx.Value("i", 0)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx,
                                             initializer=_init_worker,
                                             initargs=(counter, visible_gpus() if cuda else 0))
        return self._pool

    def _submit(self, jobs, store, data):
        if not jobs:
            return
        pool = self._ensure_pool(jobs[0].train.device != "cpu")
        run_dir = str(store.root.parent)
        futures = {pool.submit(execute, job, run_dir, self.threads): j for j, job in enumerate(jobs)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                rec, trained = f.result()
                yield futures[f], rec, trained

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
