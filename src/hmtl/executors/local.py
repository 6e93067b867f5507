"""`local:N`: a pool of N worker processes on this machine. Each worker gets an equal share of
the cores (torch threads), and, when trainings run on CUDA, its own GPU in turn."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from .base import Executor, cpu_share, execute, register_executor


def _exit_with_parent(parent: int, every: float = 1.0) -> None:
    """A worker whose run was killed (Ctrl-C, kill, even kill -9) must not go on training for
    nobody, holding the cores the resumed run needs: it exits once its parent is gone."""
    while True:
        time.sleep(every)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(counter, gpus: int) -> None:
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="exit-with-parent").start()
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


@register_executor("local", "local:N")
class LocalPoolExecutor(Executor):
    def __init__(self, workers: int, threads: int | None = None):
        super().__init__(threads or cpu_share(workers))
        self.workers = max(1, workers)
        self._pool = None

    @classmethod
    def from_spec(cls, arg: str, threads: int | None) -> "LocalPoolExecutor":
        return cls(int(arg), threads)

    def _ensure_pool(self, cuda: bool):
        if self._pool is None:
            ctx = mp.get_context("spawn")  # torch and fork do not mix
            counter = ctx.Value("i", 0)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx,
                                             initializer=_init_worker,
                                             initargs=(counter, visible_gpus() if cuda else 0))
        return self._pool

    def _submit(self, units, run):
        if not units:
            return
        pool = self._ensure_pool(units[0][0].train.device != "cpu")
        futures = {pool.submit(execute, unit, run, self.threads): u for u, unit in enumerate(units)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                yield futures[f], f.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
