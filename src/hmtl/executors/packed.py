"""Packed training as an executor: the jobs of a call are grouped by shape (same spec shape,
configs, dataset and training-set size) and each group of up to K jobs is trained at once as
one grouped network (training/packed.py). Meant for GPUs, where one small model leaves the
device idle; on CPU it is correct but not faster."""

from __future__ import annotations

from collections import defaultdict

from ..training.packed import can_pack, shape_key, train_packed
from .base import Executor, set_threads


class PackedExecutor(Executor):
    name = "packed"

    def __init__(self, pack: int = 64, threads: int | None = None):
        super().__init__(threads)
        self.pack = max(1, pack)

    def _submit(self, jobs, store, data):
        set_threads(self.threads)
        groups = defaultdict(list)
        for j, job in enumerate(jobs):
            if not can_pack(job, data):   # a baseline's own kind of job, or other task types
                rec, trained = store.run(job, data)
                yield j, rec, trained
                continue
            groups[shape_key(job, data)].append(j)
        for members in groups.values():
            for start in range(0, len(members), self.pack):
                chunk = members[start:start + self.pack]
                for j, (record, state) in zip(chunk, train_packed([jobs[j] for j in chunk], data)):
                    store.save(jobs[j], record, state)
                    yield j, record, True
